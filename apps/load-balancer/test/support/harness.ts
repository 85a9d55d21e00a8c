import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type Redis from 'ioredis';
import { podHeartbeat } from '@executor/queues';
import { freePort } from '@executor/testing';

export const ROOT = resolve(__dirname, '../../../..');
const SWC_ARGS = ['-r', 'reflect-metadata', '-r', '@swc-node/register'];
const SWC_ENV = { SWC_NODE_PROJECT: join(ROOT, 'apps/load-balancer/tsconfig.json') };
export const REAL_EXECUTOR = join(ROOT, 'dist/apps/executor/main.js');
export const REAL_PERSISTENCE = join(ROOT, 'dist/apps/persistence/main.js');

/**
 * Which executor the e2e suites run: the real bundle (dist/apps/executor/main.js, built with
 * `npx nx build executor`) whenever it exists, else the test stand-in. E2E_EXECUTOR=stand-in
 * forces the stand-in; E2E_EXECUTOR=real fails when the bundle is missing.
 */
export const useRealExecutor = (): boolean => {
  const mode = process.env['E2E_EXECUTOR'];
  if (mode === 'stand-in') return false;
  if (mode === 'real' && !existsSync(REAL_EXECUTOR))
    throw new Error(`E2E_EXECUTOR=real but ${REAL_EXECUTOR} is missing: npx nx build executor`);
  return existsSync(REAL_EXECUTOR);
};

export interface Proc {
  child: ChildProcess;
  output: () => string;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function track(child: ChildProcess): Proc {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Waits until `text` appears in the process output (or it exits / times out). */
export function waitForOutput(p: Proc, re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
  return new Promise((resolvePromise, reject) => {
    const check = (): boolean => {
      const m = re.exec(p.output());
      if (m) {
        cleanup();
        resolvePromise(m);
      }
      return !!m;
    };
    const onExit = (): void => {
      cleanup();
      reject(new Error(`process exited before ${re}: ${p.output().slice(-2000)}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${re}: ${p.output().slice(-2000)}`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      p.child.stdout?.off('data', check);
      p.child.stderr?.off('data', check);
      p.child.off('exit', onExit);
    };
    p.child.stdout?.on('data', check);
    p.child.stderr?.on('data', check);
    p.child.once('exit', onExit);
    check();
  });
}

export interface ExecutorOptions {
  redisUrl: string;
  prefix: string;
  pool: string;
  pod: string;
  template?: string;
  region?: string;
  env?: Record<string, string>;
  /** Always run the test stand-in (e.g. a deliberately broken pod), whatever E2E_EXECUTOR says. */
  standIn?: boolean;
}

/**
 * Starts an executor process (real bundle or the stand-in) and waits for its first healthy
 * heartbeat (the real executor beats `healthy: false` until its boot smoke test passed).
 */
export async function startExecutor(redis: Redis, o: ExecutorOptions): Promise<Proc> {
  // mkdtemp makes 0700 dirs; session processes run under sandbox uids and must traverse the root.
  const workspaceRoot = mkdtempSync(join(tmpdir(), `ws-${o.pod}-`));
  chmodSync(workspaceRoot, 0o755);
  const env = {
    ...process.env,
    POOL_NAME: o.pool,
    POD_NAME: o.pod,
    TEMPLATE: o.template ?? 'python',
    ...(o.region ? { REGION: o.region } : {}),
    REDIS_URL: o.redisUrl,
    QUEUE_PREFIX: o.prefix,
    WORKSPACE_ROOT: workspaceRoot,
    PORT: '0',
    SANDBOX: 'none',
    MAX_SESSIONS: '200',
    WARM_KERNELS: '1',
    ...SWC_ENV,
    ...o.env,
  };
  const args =
    useRealExecutor() && !o.standIn ? [REAL_EXECUTOR] : [...SWC_ARGS, join(__dirname, 'fake-executor.ts')];
  const p = track(spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  await waitFor(
    async () => {
      const hb = await podHeartbeat(redis, o.pod, o.prefix);
      return !!hb && hb.healthy !== false;
    },
    30_000,
    () => `no healthy heartbeat from ${o.pod}: ${p.output().slice(-2000)}`,
  );
  return p;
}

/**
 * Starts the real persistence service when the real executor is used (the stand-in keeps its own
 * snapshots); resolves undefined otherwise.
 */
export async function startPersistence(redisUrl: string, prefix: string): Promise<Proc | undefined> {
  if (!useRealExecutor() || !existsSync(REAL_PERSISTENCE)) return undefined;
  const port = await freePort();
  const p = track(
    spawn(process.execPath, [REAL_PERSISTENCE], {
      env: {
        ...process.env,
        REDIS_URL: redisUrl,
        QUEUE_PREFIX: prefix,
        PORT: String(port),
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  await waitFor(
    async () => (await fetch(`http://127.0.0.1:${port}/health/ready`).catch(() => undefined))?.status === 200,
    30_000,
    () => `persistence to be ready: ${p.output().slice(-2000)}`,
  );
  return p;
}

/** Starts a load-balancer process from source (like `nx serve`) and resolves its URL. */
export async function spawnLoadBalancer(env: Record<string, string>): Promise<Proc & { url: string }> {
  const p = track(
    spawn(process.execPath, [...SWC_ARGS, join(ROOT, 'apps/load-balancer/src/main.ts')], {
      env: { ...process.env, ...SWC_ENV, PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const m = await waitForOutput(p, /load-balancer listening on (http:\/\/[\d.]+:\d+)/);
  return Object.assign(p, { url: m[1] as string });
}

/**
 * Polls `cond` until true. Only for conditions that have no event to wait on (another process's
 * state in Redis); every use has a deadline and a message.
 */
export async function waitFor(
  cond: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: () => string,
  stepMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
