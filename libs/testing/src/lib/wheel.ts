import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = `
import base64, hashlib, sys, zipfile
d = sys.argv[1]
for spec in sys.argv[2:]:
    name, version = spec.split("==")
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = {version!r}\\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: executor-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }
    def h(s):
        return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(s.encode()).digest()).rstrip(b"=").decode()
    record = "".join(f"{p},{h(c)},{len(c.encode())}\\n" for p, c in files.items()) + f"{info}/RECORD,,\\n"
    with zipfile.ZipFile(f"{d}/{name}-{version}-py3-none-any.whl", "w") as z:
        for p, c in files.items():
            z.writestr(p, c)
        z.writestr(f"{info}/RECORD", record)
`;

/**
 * Builds tiny pure-Python wheels (`name==version`, module `name` with `VALUE = "<version>"`)
 * in a fresh directory, for offline pip installs in tests (`PIP_FIND_LINKS=<dir>`,
 * `PIP_NO_INDEX=1`): no package index is reachable here. The directory is 0755 so sandboxed
 * sessions, which run under their own uids, can read it.
 */
export function buildWheelDir(...specs: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'wheels-'));
  execFileSync('python3', ['-c', SCRIPT, dir, ...specs]);
  chmodSync(dir, 0o755);
  return dir;
}
