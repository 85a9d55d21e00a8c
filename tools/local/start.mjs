#!/usr/bin/env node
// `npm start`: the whole platform on this machine. Installs the npm dependencies when they are
// missing, then runs tools/local/platform.ts, which installs the system packages (through
// tools/ci/install-deps.sh, the script CI uses), builds the apps, and starts and supervises
// every process.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  console.log('[start] installing npm dependencies (npm ci)…');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`\n\`npm ci\` failed (exit ${r.status}).`);
    process.exit(r.status ?? 1);
  }
}

// The platform runs in a child (TypeScript through @swc-node/register). Ctrl-C in a terminal
// reaches both processes; a signal sent to this one alone (a supervisor) is passed on. Either
// way the child stops everything cleanly and this process exits with it.
const child = spawn(process.execPath, ['-r', '@swc-node/register', join(root, 'tools/local/platform.ts')], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, SWC_NODE_PROJECT: join(root, 'tsconfig.base.json') },
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
