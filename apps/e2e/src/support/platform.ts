import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Platform, type PlatformOptions, type PoolSpec } from '@executor/launcher';
import { Api } from './api';

export const ROOT = join(__dirname, '..', '..', '..', '..');

/** Starts the platform the way `npm start` does (same launcher, built bundles), in a temp dir. */
export async function startTestPlatform(
  pools: PoolSpec[],
  opts: Partial<PlatformOptions> = {},
): Promise<{ platform: Platform; api: Api; apis: Api[]; otherTenant: Api; stop: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'executor-e2e-'));
  // mkdtemp makes it 0700; sandboxed sessions run under their own uids and must be able to
  // traverse the parents of their workspace (as `.data/` allows under `npm start`).
  chmodSync(dataDir, 0o755);
  const key = randomBytes(16).toString('hex');
  const otherKey = randomBytes(16).toString('hex');
  const platform = await Platform.start({
    rootDir: ROOT,
    dataDir,
    lbPorts: [0],
    apiKeys: `acme:${key},globex:${otherKey}`,
    pools,
    output: 'file',
    ...opts,
  });
  const apis = platform.urls.map((u) => new Api(u, key));
  return {
    platform,
    api: apis[0] as Api,
    apis,
    otherTenant: new Api(platform.urls[0] as string, otherKey),
    stop: async () => {
      await platform.stop();
      if (!process.env['KEEP_E2E_DATA']) rmSync(dataDir, { recursive: true, force: true });
      else console.log(`e2e data kept in ${dataDir}`);
    },
  };
}

/** Polls `check` until it returns a value (bounded): for conditions only observable over HTTP. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
