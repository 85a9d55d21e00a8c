import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = `
import base64, hashlib, sys, zipfile
d, name, version = sys.argv[1], sys.argv[2], sys.argv[3]
info = f"{name}-{version}.dist-info"
files = {
    f"{name}/__init__.py": f"VALUE = {version!r}\\n",
    f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: lb-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
def h(s):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(s.encode()).digest()).rstrip(b"=").decode()
record = "".join(f"{p},{h(c)},{len(c.encode())}\\n" for p, c in files.items()) + f"{info}/RECORD,,\\n"
with zipfile.ZipFile(f"{d}/{name}-{version}-py3-none-any.whl", "w") as z:
    for p, c in files.items():
        z.writestr(p, c)
    z.writestr(f"{info}/RECORD", record)
`;

/** Builds a tiny pure-Python wheel in a fresh directory (offline package installs in tests). */
export function makeWheelDir(name: string, version: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'wheels-'));
  execFileSync('python3', ['-c', SCRIPT, dir, name, version]);
  // Readable by the executor's sandbox uids (mkdtemp makes 0700 dirs, files 0644).
  chmodSync(dir, 0o755);
  return dir;
}
