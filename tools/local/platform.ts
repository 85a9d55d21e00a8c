// Runs the platform locally (see tools/local/start.mjs). Options, all by env:
//   PORT            first load-balancer port (default 8080); more replicas take PORT+10, +20…
//   LB_REPLICAS     load-balancer replicas (default 1)
//   POOLS           name:template:replicas[:region],… (default python:python:2,python-data:python-data:1,node:node:1)
//   EXECUTOR_API_KEYS  tenant:key,… (default: a key generated once and kept in .data/api-key)
//   EXECUTOR_ADMIN_KEYS name:key,… (default: an admin key generated at each start; platform.adminKey)
//   SANDBOX         none | bwrap (default none)
//   DATA_DIR        default .data
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Platform, type PoolSpec } from '@executor/launcher';

const root = join(__dirname, '..', '..');
const dataDir = process.env['DATA_DIR'] ?? join(root, '.data');

function parsePools(spec: string): PoolSpec[] {
  return spec.split(',').map((entry) => {
    const [name, template, replicas, region] = entry.split(':');
    if (!name || !template)
      throw new Error(`POOLS entry "${entry}" must be name:template[:replicas[:region]]`);
    const n = Number(replicas ?? 1);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`POOLS entry "${entry}": replicas must be a positive integer`);
    return { name, template, replicas: n, region: region || undefined };
  });
}

function apiKeys(): string {
  if (process.env['EXECUTOR_API_KEYS']) return process.env['EXECUTOR_API_KEYS'];
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'api-key');
  if (!existsSync(file)) writeFileSync(file, `local:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

async function main(): Promise<void> {
  const port = Number(process.env['PORT'] ?? 8080);
  const replicas = Number(process.env['LB_REPLICAS'] ?? 1);
  const pools = parsePools(process.env['POOLS'] ?? 'python:python:2,python-data:python-data:1,node:node:1');
  console.log(
    `[start] starting redis, persistence, ${replicas} load balancer(s) and ${pools.reduce((n, p) => n + p.replicas, 0)} executors…`,
  );
  const platform = await Platform.start({
    rootDir: root,
    dataDir,
    lbPorts: Array.from({ length: replicas }, (_, i) => port + i * 10),
    apiKeys: apiKeys(),
    adminKeys: process.env['EXECUTOR_ADMIN_KEYS'],
    pools,
    redisPort: Number(process.env['REDIS_PORT'] ?? 6390),
    sandbox: (process.env['SANDBOX'] as 'none' | 'bwrap' | undefined) ?? 'none',
    output: 'file',
  });
  platform.on(
    'executor-exited',
    (e: { pod: string; code: number | null; signal: string | null; replaced: boolean }) => {
      if (e.replaced)
        console.log(`[start] executor ${e.pod} exited (${e.signal ?? e.code}); starting a replacement`);
    },
  );
  platform.on('executor-started', (e: { pod: string }) => console.log(`[start] executor ${e.pod} ready`));
  platform.on('error', (err: Error) => console.error(`[start] ${err.message}`));
  const url = platform.urls[0] as string;
  console.log(`
The platform is running.
  API:       ${platform.urls.join(', ')}
  API key:   ${platform.apiKey}
  Admin key: ${platform.adminKey}
  Admin UI:  ${url}/admin/queues  (user: anything, password: the admin key)
  Logs:      ${join(dataDir, 'logs')}
  Pools:     ${pools.map((p) => `${p.name} (${p.template} ×${p.replicas})`).join(', ')}

Try it:
  S=$(curl -s -H "Authorization: Bearer ${platform.apiKey}" -H 'content-type: application/json' \\
      -d '{"template":"python"}' ${url}/v1/sessions | sed -E 's/.*"id":"([^"]+)".*/\\1/')
  curl -s -H "Authorization: Bearer ${platform.apiKey}" -H 'content-type: application/json' \\
      -d '{"code":"print(6*7)"}' ${url}/v1/sessions/$S/executions

Ctrl-C stops everything (executors snapshot their sessions first).`);

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
