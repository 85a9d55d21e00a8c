#!/usr/bin/env node
// `npm start`: the whole platform on this machine. Prepares what is missing (npm
// dependencies, redis-server via apt when root, the app bundles), then runs
// tools/local/platform.ts, which starts and supervises every process.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) {
    console.error(`\n\`${cmd} ${args.join(' ')}\` failed (exit ${r.status}).`);
    process.exit(r.status ?? 1);
  }
};

if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  console.log('[start] installing npm dependencies (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

if (spawnSync('redis-server', ['--version']).status !== 0) {
  if (process.getuid?.() === 0) {
    console.log('[start] installing redis-server (apt-get)…');
    run('bash', [
      '-c',
      'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null',
    ]);
  } else {
    console.error('redis-server is not installed. Install it with: sudo apt-get install -y redis-server');
    process.exit(1);
  }
}

if (process.env.SKIP_BUILD !== '1') {
  console.log('[start] building the apps (cached by Nx after the first time)…');
  run(
    'npx',
    [
      'nx',
      'run-many',
      '-t',
      'build',
      '-p',
      'executor',
      'persistence',
      'load-balancer',
      '--output-style=static',
    ],
    {
      env: { ...process.env, NX_DAEMON: 'false' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
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
