import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { startRedis, uniquePrefix, type TestRedis } from '@executor/testing';
import {
  JobRpcClient,
  PersistenceJobDefs,
  PersistenceJobs,
  PodJobDefs,
  QueueNames,
  bullConnection,
  createRedis,
  parsePayload,
  podQueueName,
  publishReplies,
  putTransfer,
  takeTransfer,
  readTransfer,
  type ExecuteResult,
  type OpenSessionResult,
} from '@executor/queues';
import { decodeState, encodeState, type SessionState, type WorkspaceEntry } from '@executor/session-state';
import { loadExecutorConfig, type ExecutorConfig } from '../src/config/executor.config';
import { startExecutor } from '../src/executor';

/** What the stand-in persistence service received. */
export interface StoredSnapshot {
  version: number;
  trigger: string;
  baseVersion: number | null;
  state: SessionState;
  /** Files carried with content in this snapshot (a delta carries only new content). */
  carried: number;
  at: number;
}

/**
 * A real BullMQ consumer standing in for the persistence service: keeps full states per session,
 * applies deltas (content of unchanged files taken from the stored version by hash).
 */
export class FakePersistence {
  readonly stored = new Map<string, StoredSnapshot[]>();
  readonly deleted: string[] = [];
  private readonly deleteWaiters = new Map<string, () => void>();

  /** Resolves once a delete of `sessionId` was received. */
  waitForDelete(sessionId: string): Promise<void> {
    if (this.deleted.includes(sessionId)) return Promise.resolve();
    return new Promise((resolve) => this.deleteWaiters.set(sessionId, resolve));
  }
  private readonly workers: Worker[] = [];
  private readonly redis: Redis;

  constructor(
    private readonly url: string,
    private readonly prefix: string,
  ) {
    this.redis = createRedis(url);
  }

  async start(): Promise<void> {
    const mk = (queue: string, fn: (job: Job) => Promise<unknown>): Worker => {
      const w = new Worker(queue, fn, {
        connection: bullConnection(this.url),
        prefix: this.prefix,
        concurrency: 8,
      });
      publishReplies(w, this.redis, this.prefix);
      this.workers.push(w);
      return w;
    };
    mk(QueueNames.snapshot, (job) => this.snapshot(job));
    mk(QueueNames.restore, (job) => this.restore(job));
    mk(QueueNames.persistenceAdmin, async (job) => {
      if (job.name === PersistenceJobs.delete) {
        const p = parsePayload(PersistenceJobDefs.delete, job.data);
        this.deleted.push(p.sessionId);
        this.deleteWaiters.get(p.sessionId)?.();
        return { deleted: this.stored.delete(p.sessionId) };
      }
      return {};
    });
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  private readonly waiters: Array<{
    match: (s: StoredSnapshot, id: string) => boolean;
    resolve: (s: StoredSnapshot) => void;
  }> = [];

  /** Resolves with the next stored snapshot that matches (event-driven: no polling). */
  waitFor(match: (s: StoredSnapshot, sessionId: string) => boolean): Promise<StoredSnapshot> {
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  latest(sessionId: string): StoredSnapshot | undefined {
    const all = this.stored.get(sessionId);
    return all?.[all.length - 1];
  }

  private async snapshot(job: Job): Promise<unknown> {
    const p = parsePayload(PersistenceJobDefs.snapshot, job.data);
    const state = decodeState(await takeTransfer(this.redis, p.state));
    const history = this.stored.get(p.sessionId) ?? [];
    const base = history[history.length - 1];
    const byHash = new Map<string, Buffer>();
    if (p.baseVersion !== null) {
      if (!base || base.version !== p.baseVersion)
        throw new Error(`conflict: base ${p.baseVersion} is not the latest`);
      for (const f of base.state.files) if (f.hash && f.content) byHash.set(f.hash, f.content);
    }
    let carried = 0;
    for (const f of state.files) if (f.type === 'file' && f.content) byHash.set(f.hash as string, f.content);
    const files: WorkspaceEntry[] = state.files.map((f) => {
      if (f.type !== 'file') return f;
      if (f.content) carried++;
      const content = f.content ?? byHash.get(f.hash as string);
      if (!content) throw new Error(`missing content for ${f.path}`);
      return { ...f, content };
    });
    const version = (base?.version ?? 0) + 1;
    history.push({
      version,
      trigger: p.trigger,
      baseVersion: p.baseVersion,
      state: { ...state, files, baseVersion: null },
      carried,
      at: Date.now(),
    });
    this.stored.set(p.sessionId, history);
    const stored = history[history.length - 1] as StoredSnapshot;
    for (const w of [...this.waiters]) {
      if (w.match(stored, p.sessionId)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(stored);
      }
    }
    const bytes = files.reduce((n, f) => n + (f.content?.length ?? 0), 0);
    return { version, bytes, storedBytes: p.state.size, newBlobs: carried, at: new Date().toISOString() };
  }

  private async restore(job: Job): Promise<unknown> {
    const p = parsePayload(PersistenceJobDefs.restore, job.data);
    const last = this.latest(p.sessionId);
    if (!last) return { found: false };
    const ref = await putTransfer(this.redis, encodeState(last.state), { prefix: this.prefix });
    return { found: true, version: last.version, state: ref };
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
    this.redis.disconnect();
  }
}

export interface Harness {
  redis: TestRedis;
  prefix: string;
  client: JobRpcClient;
  commands: Redis;
  persistence: FakePersistence;
  stop(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const redis = await startRedis();
  const prefix = uniquePrefix('ex');
  const persistence = new FakePersistence(redis.url, prefix);
  await persistence.start();
  const client = new JobRpcClient({ redisUrl: redis.url, prefix });
  const commands = createRedis(redis.url);
  return {
    redis,
    prefix,
    client,
    commands,
    persistence,
    async stop() {
      await client.close();
      await persistence.stop();
      commands.disconnect();
      await redis.stop();
    },
  };
}

let podCounter = 0;

/** Config for an in-process executor of `template` against the harness. */
export function executorConfig(
  h: Harness,
  template: string,
  extra: Record<string, string> = {},
): ExecutorConfig {
  podCounter++;
  return loadExecutorConfig({
    POOL_NAME: `pool-${template}`,
    POD_NAME: `pod-${template}-${process.pid}-${podCounter}`,
    TEMPLATE: template,
    REDIS_URL: h.redis.url,
    QUEUE_PREFIX: h.prefix,
    WORKSPACE_ROOT: `/tmp/executor-test-${process.pid}-${podCounter}`,
    PORT: '0',
    SANDBOX: process.env['EXECUTOR_TEST_SANDBOX'] ?? 'bwrap',
    WARM_KERNELS: '1',
    MAX_SESSIONS: '8',
    HEARTBEAT_INTERVAL_MS: '500',
    ...extra,
  });
}

/** Helpers that drive an executor (in this process or another) through its queue, as the load balancer does. */
export class PodClient {
  private n = 0;

  constructor(
    readonly h: Harness,
    readonly cfg: ExecutorConfig,
  ) {}

  get queue(): string {
    return podQueueName(this.cfg.POD_NAME);
  }

  newSessionId(): string {
    return `s-${process.pid}-${++this.n}-${Math.random().toString(36).slice(2, 8)}`;
  }

  async open(
    opts: {
      sessionId?: string;
      persist?: boolean;
      restore?: boolean;
      env?: Record<string, string>;
      network?: boolean;
    } = {},
  ): Promise<{ id: string; result: OpenSessionResult }> {
    const id = opts.sessionId ?? this.newSessionId();
    const result = await this.h.client.call(
      this.queue,
      PodJobDefs.open,
      {
        sessionId: id,
        tenant: 'acme',
        template: this.cfg.TEMPLATE,
        pool: this.cfg.POOL_NAME,
        persist: opts.persist ?? false,
        ttlSeconds: 300,
        env: opts.env ?? {},
        metadata: {},
        restore: opts.restore ?? false,
        ...(opts.network !== undefined ? { network: opts.network } : {}),
      },
      { timeoutMs: 60_000 },
    );
    return { id, result };
  }

  exec(
    sessionId: string,
    code: string,
    timeoutMs = 10_000,
    callTimeoutMs = timeoutMs + 60_000,
  ): Promise<ExecuteResult> {
    return this.h.client.call(
      this.queue,
      PodJobDefs.execute,
      { sessionId, tenant: 'acme', executionId: `e-${++this.n}`, code, timeoutMs },
      { timeoutMs: callTimeoutMs },
    );
  }

  async put(sessionId: string, path: string, content: string | Buffer): Promise<{ size: number }> {
    const blob = await putTransfer(this.h.commands, Buffer.from(content), { prefix: this.h.prefix });
    return this.h.client.call(
      this.queue,
      PodJobDefs.filesPut,
      { sessionId, tenant: 'acme', path, blob },
      { timeoutMs: 20_000 },
    );
  }

  async get(sessionId: string, path: string): Promise<Buffer> {
    const r = await this.h.client.call(
      this.queue,
      PodJobDefs.filesGet,
      { sessionId, tenant: 'acme', path },
      { timeoutMs: 20_000 },
    );
    return readTransfer(this.h.commands, r.blob);
  }

  persist(sessionId: string): Promise<{ version: number; bytes: number; at: string }> {
    return this.h.client.call(
      this.queue,
      PodJobDefs.persist,
      { sessionId, tenant: 'acme' },
      { timeoutMs: 60_000 },
    );
  }

  async list(sessionId: string): Promise<Array<{ path: string; size: number; modifiedAt: string }>> {
    const r = await this.h.client.call(
      this.queue,
      PodJobDefs.filesList,
      { sessionId, tenant: 'acme' },
      { timeoutMs: 20_000 },
    );
    return r.items;
  }

  del(sessionId: string, path: string): Promise<{ deleted: boolean }> {
    return this.h.client.call(
      this.queue,
      PodJobDefs.filesDelete,
      { sessionId, tenant: 'acme', path },
      { timeoutMs: 20_000 },
    );
  }

  /** Host path of a session's workspace (found by a marker file the session writes). */
  async hostWorkspace(sessionId: string): Promise<string> {
    const marker = `.where-${Math.random().toString(36).slice(2)}`;
    await this.exec(sessionId, `open(${JSON.stringify(marker)}, "w").close()`);
    for (const slot of readdirSync(this.cfg.WORKSPACE_ROOT)) {
      const work = join(this.cfg.WORKSPACE_ROOT, slot, 'work');
      if (existsSync(join(work, marker))) {
        rmSync(join(work, marker));
        return work;
      }
    }
    throw new Error(`workspace of ${sessionId} not found under ${this.cfg.WORKSPACE_ROOT}`);
  }

  close(sessionId: string, deleteState = false): Promise<{ closed: boolean }> {
    return this.h.client.call(
      this.queue,
      PodJobDefs.close,
      { sessionId, tenant: 'acme', deleteState, reason: 'deleted' },
      { timeoutMs: 20_000 },
    );
  }
}

/** A running in-process executor, driven through its queue. */
export class PodDriver extends PodClient {
  constructor(
    h: Harness,
    cfg: ExecutorConfig,
    readonly app: NestFastifyApplication,
    /** Stops an executor that is not `app` (e.g. the bundle in a child process). */
    private readonly stopper?: () => Promise<void>,
  ) {
    super(h, cfg);
  }

  static async start(h: Harness, template: string, extra: Record<string, string> = {}): Promise<PodDriver> {
    const cfg = executorConfig(h, template, extra);
    const app = await startExecutor(cfg, ['warn', 'error']);
    return new PodDriver(h, cfg, app);
  }

  async stop(): Promise<void> {
    if (this.stopper) await this.stopper();
    else await this.app.close();
    rmSync(this.cfg.WORKSPACE_ROOT, { recursive: true, force: true });
  }
}
