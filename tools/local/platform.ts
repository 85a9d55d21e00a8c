// Runs the platform locally (see tools/local/start.mjs). Options, all by env:
//   PORT               first load-balancer port (default 8080); more replicas take PORT+10, +20…
//   LB_REPLICAS        load-balancer replicas (default 1)
//   POOLS              name:template:replicas[:region],… (default: DEFAULT_POOLS_SPEC of libs/launcher —
//                      python ×2, python-data, node, code-interpreter-v1 and base for E2B's SDKs)
//   EXECUTOR_API_KEYS  tenant:key,… (default: a key generated once and kept in .data/api-key)
//   EXECUTOR_ADMIN_KEYS name:key,… (default: a key generated once and kept in .data/admin-key)
//   SANDBOX            bwrap (default) | none (explicitly only: warned in the banner and at WARN)
//   DATA_DIR           default .data
//   SKIP_INSTALL=1     skip the system packages step; SKIP_BUILD=1 skip the build
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  DEFAULT_POOLS_SPEC,
  Platform,
  assertNotRunning,
  ensureKeyFile,
  formatBanner,
  parsePools,
  resolveSandbox,
} from '@executor/launcher';

const root = join(__dirname, '..', '..');
const dataDir = process.env['DATA_DIR'] ?? join(root, '.data');

/** Runs one preparation step, timed; exits with its status when it fails. */
function step(what: string, cmd: string, args: string[], opts: { quiet?: boolean } = {}): void {
  const t0 = performance.now();
  console.log(`[start] ${what}…`);
  const r = spawnSync(cmd, args, {
    cwd: root,
    stdio: opts.quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit',
    env: { ...process.env, NX_DAEMON: 'false' },
  });
  if (r.status !== 0) {
    console.error(`\n[start] \`${cmd} ${args.join(' ')}\` failed (exit ${r.status}).`);
    process.exit(r.status ?? 1);
  }
  console.log(`[start] ${what}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

function keys(envName: string, file: string, name: string): string {
  const fromEnv = process.env[envName];
  if (fromEnv) return fromEnv;
  const k = ensureKeyFile(join(dataDir, file), name);
  if (k.replaced) console.log(`[start] ${file} held a key weaker than 32 random bytes: replaced it`);
  return k.entry;
}

async function main(): Promise<void> {
  // Refuse a second `npm start` before installing or building anything under the running one.
  assertNotRunning(dataDir);
  const sandbox = resolveSandbox(process.env);
  const port = Number(process.env['PORT'] ?? 8080);
  const replicas = Number(process.env['LB_REPLICAS'] ?? 1);
  const pools = parsePools(process.env['POOLS'] ?? DEFAULT_POOLS_SPEC);
  const templates = [...new Set(pools.map((p) => p.template))];

  if (process.env['SKIP_INSTALL'] !== '1') {
    step(`system packages: redis, the sandbox, runtimes of ${templates.join(', ')}`, 'bash', [
      'tools/ci/install-deps.sh',
      '--platform',
      ...templates,
    ]);
  }
  if (process.env['SKIP_BUILD'] !== '1') {
    step(
      'building the apps (cached by Nx after the first time)',
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
      { quiet: true },
    );
  }
  if (sandbox.warning) console.warn(`[start] WARN ${sandbox.warning}`);

  const t0 = performance.now();
  console.log(
    `[start] starting redis, persistence, ${replicas} load balancer(s) and ${pools.reduce((n, p) => n + p.replicas, 0)} executors (each runs its template's smoke test)…`,
  );
  const platform = await Platform.start({
    rootDir: root,
    dataDir,
    lbPorts: Array.from({ length: replicas }, (_, i) => port + i * 10),
    apiKeys: keys('EXECUTOR_API_KEYS', 'api-key', 'local'),
    adminKeys: keys('EXECUTOR_ADMIN_KEYS', 'admin-key', 'admin'),
    pools,
    redisPort: Number(process.env['REDIS_PORT'] ?? 6390),
    sandbox: sandbox.mode,
    output: 'file',
  });
  console.log(`[start] started in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  platform.on(
    'executor-exited',
    (e: { pod: string; code: number | null; signal: string | null; replaced: boolean }) => {
      if (e.replaced)
        console.log(`[start] executor ${e.pod} exited (${e.signal ?? e.code}); starting a replacement`);
    },
  );
  platform.on('executor-started', (e: { pod: string; healthy: boolean; reason?: string }) =>
    console.log(`[start] executor ${e.pod} ${e.healthy ? 'ready' : `NOT HEALTHY: ${e.reason ?? ''}`}`),
  );
  platform.on('error', (err: Error) => console.error(`[start] ${err.message}`));
  const live = await platform.pools();
  console.log(
    formatBanner({
      urls: platform.urls,
      tenantKey: platform.apiKey,
      adminKey: platform.adminKey,
      sandbox: sandbox.mode,
      sandboxWarning: sandbox.warning,
      pools: live,
      logsDir: join(dataDir, 'logs'),
    }),
  );
  for (const p of live.filter((x) => !x.healthy))
    console.warn(`[start] WARN pool ${p.name} takes no sessions: ${p.reason ?? 'unknown reason'}`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`\n[start] ${signal}: stopping (executors snapshot first)…`);
    platform
      .stop()
      .then(() => {
        console.log('[start] stopped.');
        process.exit(0);
      })
      .catch((err: Error) => {
        console.error(err);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: Error) => {
  console.error(`[start] failed: ${err.message}`);
  process.exit(1);
});
