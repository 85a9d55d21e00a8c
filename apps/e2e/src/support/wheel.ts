import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';

/**
 * Builds a tiny pure-Python wheel (`name==version`, module `name` with `VALUE = version`) in
 * `dir` with Python's zipfile, so pip can install it with no network (`--no-index --find-links`).
 */
export function buildWheel(dir: string, name: string, version: string): string {
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755); // sessions run under their own uids: they must be able to read it
  const script = `
import base64, hashlib, sys, zipfile
name, version, out = sys.argv[1], sys.argv[2], sys.argv[3]
dist = f"{name}-{version}.dist-info"
files = {
  f"{name}/__init__.py": f"VALUE = {version!r}\\n",
  f"{dist}/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n",
  f"{dist}/WHEEL": "Wheel-Version: 1.0\\nGenerator: e2e\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
path = f"{out}/{name}-{version}-py3-none-any.whl"
record = []
with zipfile.ZipFile(path, "w") as z:
  for n, c in files.items():
    b = c.encode()
    z.writestr(n, b)
    h = base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()
    record.append(f"{n},sha256={h},{len(b)}")
  record.append(f"{dist}/RECORD,,")
  z.writestr(f"{dist}/RECORD", "\\n".join(record) + "\\n")
print(path)
`;
  return execFileSync('python3', ['-c', script, name, version, dir], { encoding: 'utf8' }).trim();
}
