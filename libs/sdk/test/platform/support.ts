import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Platform, type PlatformOptions, type PoolSpec } from '@executor/launcher';
import { buildWheelDir } from '@executor/testing';

export const ROOT = join(__dirname, '..', '..', '..', '..');
export const CLI_BIN = join(ROOT, 'dist', 'libs', 'sdk', 'cjs', 'cli', 'main.js');

/**
 * Executor env for offline pip installs: a local directory of tiny wheels built by the test
 * (no package index is reachable here). `sdktoy==1.0.0` exposes `sdktoy.VALUE = "1.0.0"`.
 */
export function offlinePipEnv(): NodeJS.ProcessEnv {
  return { PIP_FIND_LINKS: buildWheelDir('sdktoy==1.0.0'), PIP_NO_INDEX: '1' };
}

export interface TestPlatform {
  platform: Platform;
  url: string;
  key: string;
  /** A key of a second tenant. */
  otherKey: string;
  /** An admin key (pool registration). */
  adminKey: string;
  stop(): Promise<void>;
}

/**
 * The real platform (redis-server, persistence, load balancer, executor processes) from the built
 * bundles in dist/apps, in a temp dir — what `npm start` runs. Logs stay in the data dir when
 * KEEP_PLATFORM_DATA is set.
 */
export async function startPlatform(
  pools: PoolSpec[],
  opts: Partial<PlatformOptions> = {},
): Promise<TestPlatform> {
  const dataDir = mkdtempSync(join(tmpdir(), 'executor-sdk-'));
  // mkdtemp makes the dir 0700; running as root, the executor runs sessions under other uids,
  // which must be able to traverse to their workspace by absolute path (pip --target does).
  chmodSync(dataDir, 0o755);
  const key = randomBytes(16).toString('hex');
  const otherKey = randomBytes(16).toString('hex');
  let platform: Platform;
  try {
    platform = await Platform.start({
      rootDir: ROOT,
      dataDir,
      lbPorts: [0],
      apiKeys: `acme:${key},globex:${otherKey}`,
      pools,
      output: 'file',
      ...opts,
    });
  } catch (err) {
    if (!process.env['KEEP_PLATFORM_DATA']) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    platform,
    url: platform.urls[0] as string,
    key,
    otherKey,
    adminKey: platform.adminKey,
    stop: async () => {
      await platform.stop();
      if (process.env['KEEP_PLATFORM_DATA']) console.log(`platform data kept in ${dataDir}`);
      else rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
