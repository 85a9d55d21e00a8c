// Builds the publishable package into dist/libs/sdk: tsc twice (CommonJS → cjs/, ES2022 modules →
// esm/), a package.json per format directory, the package manifest, README and LICENSE.
// `npm pack dist/libs/sdk` publishes the result. Usage: node libs/sdk/scripts/build.mjs
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const lib = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(lib, '..', '..');
const out = join(root, 'dist', 'libs', 'sdk');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

const pkg = JSON.parse(readFileSync(join(lib, 'package.json'), 'utf8'));
const versionTs = readFileSync(join(lib, 'src', 'lib', 'version.ts'), 'utf8');
if (!versionTs.includes(`'${pkg.version}'`)) {
  console.error(
    `libs/sdk: SDK_VERSION in src/lib/version.ts differs from package.json version ${pkg.version}`,
  );
  process.exit(1);
}

rmSync(out, { recursive: true, force: true });
for (const config of ['tsconfig.cjs.json', 'tsconfig.esm.json']) {
  execFileSync(process.execPath, [tsc, '-p', join(lib, config)], { stdio: 'inherit', cwd: root });
}
writeFileSync(join(out, 'cjs', 'package.json'), JSON.stringify({ type: 'commonjs' }) + '\n');
writeFileSync(join(out, 'esm', 'package.json'), JSON.stringify({ type: 'module' }) + '\n');
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
writeFileSync(
  join(out, 'package.json'),
  JSON.stringify({ ...pkg, license: pkg.license ?? rootPkg.license }, null, 2) + '\n',
);
copyFileSync(join(lib, 'README.md'), join(out, 'README.md'));
if (existsSync(join(root, 'LICENSE'))) copyFileSync(join(root, 'LICENSE'), join(out, 'LICENSE'));
const bin = join(out, pkg.bin.executor);
chmodSync(bin, 0o755);
mkdirSync(out, { recursive: true });
console.log(`built ${out} (cjs + esm, bin ${pkg.bin.executor})`);
