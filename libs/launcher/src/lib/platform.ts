import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import {
  DEFAULT_JOB_OPTIONS,
  EventJobDefs,
  PodEventTypes,
  QueueNames,
  bullConnection,
  type PodEvent,
} from '@executor/queues';
import {
  freePort,
  startProcess,
  stopProcess,
  waitHealthy,
  type ManagedProcess,
  type OutputMode,
} from './processes';
import { startRedisServer, type RedisServer } from './redis-server';

/** A pool of executor processes standing in for the pods of an ExecutorPool. */
export interface PoolSpec {
  name: string;
  template: string;
  /** Executor processes ("pods"). */
  replicas: number;
  region?: string;
  weight?: number;
  /** Extra env of this pool's executors (over `env.executor`). */
  env?: NodeJS.ProcessEnv;
}

export interface PlatformOptions {
  /** Repository root (the built bundles are read from `<rootDir>/dist/apps`). */
  rootDir: string;
  /** Where Redis data, workspaces and logs live (`.data` for `npm start`). */
  dataDir: string;
  /** Bind address of every service (default 127.0.0.1). */
  host?: string;
  /** One port per load-balancer replica (default [8080]; 0 = a free port). */
  lbPorts?: number[];
  /** `tenant:key,...` for EXECUTOR_API_KEYS. */
  apiKeys: string;
  /** `name:key,...` for EXECUTOR_ADMIN_KEYS (pool management, admin UI); registers the pools. */
  adminKeys?: string;
  pools: PoolSpec[];
  /** Redis port (default: a free port); an existing `redisUrl` skips starting one. */
  redisPort?: number;
  redisUrl?: string;
  /** AOF fsync policy of the Redis child (default everysec). */
  appendfsync?: 'always' | 'everysec';
  queuePrefix?: string;
  /** SANDBOX of the executors (default bwrap; `none` only when asked for: plain processes). */
  sandbox?: 'none' | 'bwrap';
  output?: OutputMode;
  /** Replace an executor that dies with a new one under a new pod name (default true). */
  replaceExecutors?: boolean;
  /** Extra env per service. */
  env?: { executor?: NodeJS.ProcessEnv; loadBalancer?: NodeJS.ProcessEnv; persistence?: NodeJS.ProcessEnv };
  /** Milliseconds to wait for each service to become ready (default 60 000). */
  readyTimeoutMs?: number;
}

export interface ExecutorInfo {
  pool: string;
  pod: string;
  template: string;
  port: number;
  pid: number;
  /** Its sandbox and template work (boot smoke test passed); else `reason`. */
  healthy: boolean;
  reason?: string;
}

interface ExecutorProc extends Omit<ExecutorInfo, 'healthy' | 'reason'> {
  proc: ManagedProcess;
  stopping: boolean;
}

/**
 * The whole platform as local processes: one redis-server child (AOF), the persistence
 * service, N load-balancer replicas and executor processes for each pool. Used by
 * `npm start` and by end-to-end tests. Emits `executor-started` (ExecutorInfo) and
 * `executor-exited` (ExecutorInfo & {code, signal, replaced}).
 */
export class Platform extends EventEmitter {
  private redis?: RedisServer;
  private persistence?: ManagedProcess;
  private readonly lbs: Array<{ proc: ManagedProcess; port: number }> = [];
  private readonly execs = new Map<string, ExecutorProc>();
  private stopping = false;
  private persistencePort = 0;
  private podEvents?: Queue;
  private readonly opts: Required<Omit<PlatformOptions, 'redisUrl' | 'redisPort' | 'env' | 'adminKeys'>> &
    Pick<PlatformOptions, 'redisUrl' | 'redisPort' | 'env' | 'adminKeys'>;
  private readonly health = new Map<string, { healthy: boolean; reason?: string }>();

  private constructor(options: PlatformOptions) {
    super();
    this.opts = {
      host: '127.0.0.1',
      lbPorts: [8080],
      appendfsync: 'everysec',
      queuePrefix: 'executor',
      sandbox: 'bwrap',
      output: 'file',
      replaceExecutors: true,
      readyTimeoutMs: 60_000,
      ...options,
    };
  }

  /** Starts everything and resolves when every service is ready and the pools are registered. */
  static async start(options: PlatformOptions): Promise<Platform> {
    const p = new Platform(options);
    try {
      await p.boot();
    } catch (err) {
      await p.stop();
      throw err;
    }
    return p;
  }

  get redisUrl(): string {
    return this.opts.redisUrl ?? (this.redis as RedisServer).url;
  }

  /** Base URLs of the load-balancer replicas. */
  get urls(): string[] {
    return this.lbs.map((l) => `http://${this.opts.host}:${l.port}`);
  }

  get persistenceUrl(): string {
    return `http://${this.opts.host}:${this.persistencePort}`;
  }

  /** The first API key (what `npm start` prints). */
  get apiKey(): string {
    return firstKey(this.opts.apiKeys);
  }

  /** The first admin key ('' without admin keys). */
  get adminKey(): string {
    return firstKey(this.opts.adminKeys ?? '');
  }

  get sandbox(): 'none' | 'bwrap' {
    return this.opts.sandbox;
  }

  executors(pool?: string): ExecutorInfo[] {
    return [...this.execs.values()]
      .filter((e) => !pool || e.pool === pool)
      .map(({ pool: p, pod, template, port, pid }) => ({
        pool: p,
        pod,
        template,
        port,
        pid,
        ...(this.health.get(pod) ?? { healthy: false, reason: 'starting' }),
      }));
  }

  /** GET /v1/pools of the first load balancer: each pool's health as routing sees it. */
  async pools(): Promise<
    Array<{ name: string; template: string; pods: number; healthy: boolean; reason?: string }>
  > {
    const res = await fetch(`${this.urls[0]}/v1/pools`, {
      headers: { authorization: `Bearer ${this.apiKey}` },
    });
    if (!res.ok) throw new Error(`GET /v1/pools: HTTP ${res.status} ${await res.text()}`);
    return (
      (await res.json()) as {
        items: Array<{ name: string; template: string; pods: number; healthy: boolean; reason?: string }>;
      }
    ).items;
  }

  /** Every running process of the platform by name (redis excluded when external). */
  processes(): Record<string, number> {
    const out: Record<string, number> = {};
    if (this.redis?.pid) out['redis'] = this.redis.pid;
    if (this.persistence?.child.pid) out['persistence'] = this.persistence.child.pid;
    this.lbs.forEach((l, i) => l.proc.child.pid && (out[`load-balancer-${i}`] = l.proc.child.pid));
    for (const e of this.execs.values()) out[e.pod] = e.pid;
    return out;
  }

  /** Signals an executor process ("pod"); with replaceExecutors a new pod takes its place. */
  async killExecutor(pod: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const e = this.execs.get(pod);
    if (!e) throw new Error(`no executor ${pod}`);
    e.proc.child.kill(signal);
    await e.proc.exited;
  }

  /** Signals a load-balancer replica (it is not replaced). */
  async killLoadBalancer(index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const lb = this.lbs[index];
    if (!lb) throw new Error(`no load balancer #${index}`);
    lb.proc.child.kill(signal);
    await lb.proc.exited;
  }

  /** Kills redis-server (SIGKILL) and starts it again on the same port and data (AOF). */
  async restartRedis(downMs = 0): Promise<void> {
    if (!this.redis) throw new Error('redis is external');
    await this.redis.kill();
    if (downMs) await new Promise((r) => setTimeout(r, downMs));
    await this.redis.start();
  }

  /** Stops executors first (they snapshot their sessions), then the rest. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await Promise.all(
      [...this.execs.values()].map((e) => ((e.stopping = true), stopProcess(e.proc, 'SIGTERM', 30_000))),
    );
    await this.podEvents?.close();
    await Promise.all(this.lbs.map((l) => stopProcess(l.proc)));
    if (this.persistence) await stopProcess(this.persistence);
    if (this.redis) await this.redis.stop();
    rmSync(this.lockFile, { force: true });
  }

  private get lockFile(): string {
    return join(this.opts.dataDir, 'platform.pid');
  }

  private bundle(app: string): string {
    const main = join(this.opts.rootDir, 'dist', 'apps', app, 'main.js');
    if (!existsSync(main)) throw new Error(`${main} is missing: build it with \`npx nx build ${app}\``);
    return main;
  }

  private commonEnv(): NodeJS.ProcessEnv {
    return {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      LANG: process.env['LANG'] ?? 'C.UTF-8',
      NODE_ENV: process.env['NODE_ENV'] ?? 'production',
      REDIS_URL: this.redisUrl,
      QUEUE_PREFIX: this.opts.queuePrefix,
      HOST: this.opts.host,
    };
  }

  private async boot(): Promise<void> {
    mkdirSync(this.opts.dataDir, { recursive: true });
    this.takeLock();
    if (!this.opts.redisUrl) {
      this.redis = await startRedisServer({
        dir: join(this.opts.dataDir, 'redis'),
        port: this.opts.redisPort ?? (await freePort()),
        appendfsync: this.opts.appendfsync,
      });
    }
    await this.startPersistence();
    await Promise.all(this.opts.lbPorts.map((port) => this.startLoadBalancer(port)));
    await Promise.all(
      this.opts.pools.flatMap((pool) =>
        Array.from({ length: pool.replicas }, () => this.startExecutor(pool)),
      ),
    );
    await this.registerPools();
  }

  private takeLock(): void {
    assertNotRunning(this.opts.dataDir);
    writeFileSync(this.lockFile, String(process.pid));
  }

  private spawnApp(name: string, app: string, env: NodeJS.ProcessEnv): ManagedProcess {
    return startProcess({
      name,
      command: process.execPath,
      args: ['--enable-source-maps', this.bundle(app)],
      env,
      cwd: this.opts.rootDir,
      output: this.opts.output,
      logDir: join(this.opts.dataDir, 'logs'),
    });
  }

  private async startPersistence(): Promise<void> {
    this.persistencePort = await freePort();
    this.persistence = this.spawnApp('persistence', 'persistence', {
      ...this.commonEnv(),
      PORT: String(this.persistencePort),
      ...this.opts.env?.persistence,
    });
    await waitHealthy(`${this.persistenceUrl}/health/ready`, this.persistence, this.opts.readyTimeoutMs);
  }

  private async startLoadBalancer(requestedPort: number): Promise<void> {
    const port = requestedPort || (await freePort());
    const index = this.lbs.length;
    const proc = this.spawnApp(`load-balancer-${index}`, 'load-balancer', {
      ...this.commonEnv(),
      PORT: String(port),
      REPLICA_ID: `lb-${index}-${randomBytes(3).toString('hex')}`,
      EXECUTOR_API_KEYS: this.opts.apiKeys,
      ...(this.opts.adminKeys ? { EXECUTOR_ADMIN_KEYS: this.opts.adminKeys } : {}),
      ...this.opts.env?.loadBalancer,
    });
    this.lbs.push({ proc, port });
    await waitHealthy(`http://${this.opts.host}:${port}/health/ready`, proc, this.opts.readyTimeoutMs);
  }

  private async startExecutor(pool: PoolSpec): Promise<ExecutorInfo> {
    const pod = `${pool.name}-${randomBytes(3).toString('hex')}`;
    const port = await freePort();
    const workspaceRoot = join(this.opts.dataDir, 'workspaces', pod);
    mkdirSync(workspaceRoot, { recursive: true });
    const proc = this.spawnApp(pod, 'executor', {
      ...this.commonEnv(),
      PORT: String(port),
      POOL_NAME: pool.name,
      POD_NAME: pod,
      TEMPLATE: pool.template,
      REGION: pool.region ?? '',
      WORKSPACE_ROOT: workspaceRoot,
      SANDBOX: this.opts.sandbox,
      ...this.opts.env?.executor,
      ...pool.env,
    });
    const e: ExecutorProc = {
      pool: pool.name,
      pod,
      template: pool.template,
      port,
      pid: proc.child.pid ?? 0,
      proc,
      stopping: false,
    };
    this.execs.set(pod, e);
    void proc.exited.then((r) => this.onExecutorExit(e, pool, r));
    // /health/live answers once the executor listens, which is after its boot smoke test; a pod
    // whose sandbox or template does not work stays up, not ready, with the reason.
    await waitHealthy(`http://${this.opts.host}:${port}/health/live`, proc, this.opts.readyTimeoutMs);
    const health = await executorReadiness(`http://${this.opts.host}:${port}/health/ready`);
    this.health.set(pod, health);
    const info: ExecutorInfo = { pool: e.pool, pod, template: e.template, port, pid: e.pid, ...health };
    this.emit('executor-started', info);
    return info;
  }

  /** Like a ReplicaSet: a dead executor is replaced by a new pod with a new name. */
  private onExecutorExit(
    e: ExecutorProc,
    pool: PoolSpec,
    r: { code: number | null; signal: NodeJS.Signals | null },
  ): void {
    this.execs.delete(e.pod);
    this.health.delete(e.pod);
    rmSync(join(this.opts.dataDir, 'workspaces', e.pod), { recursive: true, force: true });
    const replaced = !this.stopping && !e.stopping && this.opts.replaceExecutors;
    this.emit('executor-exited', {
      pool: e.pool,
      pod: e.pod,
      template: e.template,
      port: e.port,
      pid: e.pid,
      healthy: false,
      ...r,
      replaced,
    });
    if (this.stopping || e.stopping) return;
    void this.reportPodDeleted(
      e.pool,
      e.pod,
      r.signal ? `process killed by ${r.signal}` : `process exited with ${r.code}`,
    );
    if (!this.opts.replaceExecutors) return;
    this.replaceExecutor(pool, 0);
  }

  /** Starts a replacement, retrying with capped backoff; quiet once the platform stops. */
  private replaceExecutor(pool: PoolSpec, attempt: number): void {
    this.startExecutor(pool).catch((err: Error) => {
      if (this.stopping) return;
      if (this.listenerCount('error') > 0) this.emit('error', err);
      const delay = Math.min(500 * 2 ** attempt, 10_000);
      setTimeout(() => this.replaceExecutor(pool, attempt + 1), delay).unref();
    });
  }

  /**
   * What the operator does on Kubernetes when a pod object is deleted: tell the load balancers
   * (pod-events queue) so they move the pod's sessions at once instead of waiting for its
   * heartbeat to lapse.
   */
  private async reportPodDeleted(pool: string, pod: string, reason: string): Promise<void> {
    this.podEvents ??= new Queue(QueueNames.podEvents, {
      connection: bullConnection(this.redisUrl),
      prefix: this.opts.queuePrefix,
      defaultJobOptions: DEFAULT_JOB_OPTIONS,
    });
    const event: PodEvent = { type: PodEventTypes.deleted, pool, pod, reason, at: new Date().toISOString() };
    try {
      await this.podEvents.add(EventJobDefs.podDeleted.name, event);
    } catch (err) {
      if (this.listenerCount('error') > 0) this.emit('error', err as Error);
    }
  }

  /**
   * Registers the pools, with the admin key (pool management is admin-only). A load balancer that
   * does not know admin keys yet answers 401/403 to it: then the tenant key is used.
   */
  private async registerPools(): Promise<void> {
    const base = this.urls[0];
    if (!base) return;
    const keys = [this.adminKey, this.apiKey].filter(Boolean);
    for (const pool of this.opts.pools) {
      let res: Response | undefined;
      for (const key of keys) {
        res = await fetch(`${base}/v1/pools`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({
            name: pool.name,
            template: pool.template,
            region: pool.region,
            weight: pool.weight ?? 1,
          }),
        });
        if (res.status !== 401 && res.status !== 403) break;
      }
      if (res && !res.ok && res.status !== 409) {
        throw new Error(`registering pool ${pool.name} failed: HTTP ${res.status} ${await res.text()}`);
      }
    }
  }
}

function firstKey(keys: string): string {
  return (keys.split(',')[0] ?? '').split(':')[1] ?? '';
}

/** Throws when a platform already runs from `dataDir` (its `platform.pid` names a live process). */
export function assertNotRunning(dataDir: string): void {
  const lock = join(dataDir, 'platform.pid');
  if (!existsSync(lock)) return;
  const pid = Number(readFileSync(lock, 'utf8'));
  if (pid && pid !== process.pid && isAlive(pid)) {
    throw new Error(`the platform already runs from ${dataDir} (pid ${pid}); stop it first`);
  }
}

/** An executor's /health/ready, as {healthy, reason} (the reason of its template or sandbox check). */
async function executorReadiness(url: string): Promise<{ healthy: boolean; reason?: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (res.ok) return { healthy: true };
    const body = (await res.json().catch(() => ({}))) as {
      error?: Record<string, { status?: string; reason?: string }>;
    };
    const reasons = Object.entries(body.error ?? {}).map(
      ([check, v]) => v.reason ?? `${check}: ${v.status ?? 'down'}`,
    );
    return { healthy: false, reason: reasons.join('; ') || `HTTP ${res.status}` };
  } catch (err) {
    return { healthy: false, reason: (err as Error).message };
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
