import { randomUUID } from 'node:crypto';
import { Queue, type Job, type Worker } from 'bullmq';
import type Redis from 'ioredis';
import type { Static } from '@sinclair/typebox';
import { DEFAULT_JOB_OPTIONS, DEFAULT_QUEUE_PREFIX, bullConnection, createRedis } from './connection';
import { JobError, parseJobError, type JobErrorCode } from './errors';
import type { JobDef } from './schemas';
import { parseResult } from './validate';

/** Field of a job's data naming the reply channel of the caller (set by {@link JobRpcClient}). */
export const REPLY_TO_FIELD = '_replyTo';

/** Channel on which a caller receives the outcome of the jobs it added. */
export function replyChannel(replyTo: string, prefix = DEFAULT_QUEUE_PREFIX): string {
  return `${prefix}:replies:${replyTo}`;
}

interface ReplyMessage {
  id: string;
  ok: boolean;
  result?: unknown;
  error?: { code: JobErrorCode; message: string };
}

/** Raised by {@link JobRpcClient.call} when the job failed; carries the job's error code. */
export class JobCallError extends Error {
  constructor(
    readonly code: JobErrorCode,
    message: string,
    readonly jobName: string,
    /** True when the job was withdrawn before any worker took it: safe to send elsewhere. */
    readonly notStarted = false,
  ) {
    super(message);
    this.name = 'JobCallError';
  }
}

/**
 * What a caller knows about the worker a job was sent to (e.g. a pod's heartbeat):
 * `alive`; `draining` (takes no new work: a job it has not started is withdrawn, a running one
 * is waited for); `dead` (will never answer: a job it has not started is withdrawn, a running
 * one fails at once as `unavailable`).
 */
export type ConsumerHealth = 'alive' | 'draining' | 'dead';

export interface CallOptions {
  timeoutMs: number;
  priority?: number;
  /** Checked every `healthCheckMs` while the call waits (default: not checked). */
  consumerHealth?: () => Promise<ConsumerHealth>;
  /** Milliseconds between consumerHealth checks (default 500). */
  healthCheckMs?: number;
}

export interface JobRpcClientOptions {
  /** Redis URL (one REDIS_URL for everything). */
  redisUrl: string;
  /** BullMQ key prefix (default `executor`). */
  prefix?: string;
  /** Unique id of this caller (e.g. replica name); a random id by default. */
  callerId?: string;
  /**
   * Prefix of the id of every job this client adds (and of its random caller id). Executors use
   * their {@link executorTag}: their Redis user may only create jobs (and subscribe to a reply
   * channel) whose name starts with it (acl.ts).
   */
  jobIdPrefix?: string;
}

interface Pending {
  queue: string;
  def: JobDef;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  healthTimer?: NodeJS.Timeout;
}

/**
 * Request/response over BullMQ: `call()` adds a job (with a pre-assigned id) and resolves with
 * its validated result when the worker publishes the outcome on this caller's reply channel
 * (one pub/sub connection for every queue, instead of a QueueEvents stream per pod queue).
 * If a reply is missed (reconnect), the job's stored state is read back, so no outcome is lost.
 */
export class JobRpcClient {
  readonly callerId: string;
  private readonly prefix: string;
  private readonly jobIdPrefix: string;
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly queues = new Map<string, Queue>();
  private readonly pending = new Map<string, Pending>();
  private readonly channels = new Map<
    string,
    { handlers: Set<(event: unknown) => void>; ready: Promise<void> }
  >();
  private readonly replyChannelName: string;
  private ready: Promise<void>;

  constructor(opts: JobRpcClientOptions) {
    this.prefix = opts.prefix ?? DEFAULT_QUEUE_PREFIX;
    this.jobIdPrefix = opts.jobIdPrefix ?? '';
    this.callerId = opts.callerId ?? `${this.jobIdPrefix}${randomUUID()}`;
    this.commands = createRedis(opts.redisUrl);
    this.subscriber = createRedis(opts.redisUrl);
    this.replyChannelName = replyChannel(this.callerId, this.prefix);
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.replyChannelName) this.onReply(message);
      else this.onEvent(channel, message);
    });
    // After a reconnect, replies published while we were away are gone: re-read pending jobs.
    this.subscriber.on('ready', () => void this.recheckPending());
    this.ready = this.subscriber.subscribe(this.replyChannelName).then(() => undefined);
    // Closing before the subscription completes rejects it: callers awaiting `ready` see that;
    // nobody else must get an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  /** The BullMQ Queue for `name` (created once, sharing one connection). */
  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, {
        connection: this.commands,
        prefix: this.prefix,
        defaultJobOptions: DEFAULT_JOB_OPTIONS,
      });
      this.queues.set(name, q);
    }
    return q;
  }

  /** Adds a job and waits for its result (validated against the job's result schema). */
  async call<D extends JobDef>(
    queueName: string,
    def: D,
    payload: Static<D['payload']>,
    opts: CallOptions,
  ): Promise<Static<D['result']>> {
    await this.ready;
    const id = `${this.jobIdPrefix}${randomUUID()}`;
    const outcome = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => void this.onTimeout(id), opts.timeoutMs);
      this.pending.set(id, { queue: queueName, def, resolve, reject, timer });
    });
    // The reply comes on the subscriber connection, the add's answer on the queue's: a consumer
    // that fails the job at once can settle `outcome` while the add is still awaited below. Mark it
    // handled now (it is awaited after the add), or Node ends the process on the rejection.
    outcome.catch(() => undefined);
    if (opts.consumerHealth) this.watchConsumer(id, opts.consumerHealth, opts.healthCheckMs ?? 500);
    try {
      await this.queue(queueName).add(
        def.name,
        { ...(payload as object), [REPLY_TO_FIELD]: this.callerId },
        { jobId: id, priority: opts.priority },
      );
    } catch (err) {
      this.settle(id);
      throw err;
    }
    return parseResult(def, await outcome);
  }

  /** Adds a job without waiting for it (events, snapshots in the background). */
  async send<D extends JobDef>(
    queueName: string,
    def: D,
    payload: Static<D['payload']>,
    jobId?: string,
  ): Promise<string> {
    const id = jobId ?? (this.jobIdPrefix ? `${this.jobIdPrefix}${randomUUID()}` : undefined);
    const job = await this.queue(queueName).add(def.name, payload, id ? { jobId: id } : {});
    return job.id as string;
  }

  /**
   * Subscribes to an event channel (`streamChannel`, `procChannel`, `watchChannel`) on this client's
   * subscriber connection — the one that receives job replies — so events published by a worker on
   * its reply connection arrive before the job's reply. Resolves once Redis confirmed the
   * subscription (add the job after that); `onMessage` gets each message parsed as JSON (messages that
   * are not JSON are dropped). The returned function unsubscribes this handler.
   */
  async subscribe(channel: string, onMessage: (event: unknown) => void): Promise<() => Promise<void>> {
    if (channel === this.replyChannelName) throw new Error('the reply channel is not an event channel');
    await this.ready;
    let entry = this.channels.get(channel);
    if (!entry) {
      const ready = this.subscriber.subscribe(channel).then(() => undefined);
      entry = { handlers: new Set(), ready };
      this.channels.set(channel, entry);
      ready.catch(() => {
        if (this.channels.get(channel) === entry) this.channels.delete(channel);
      });
    }
    const handler = (event: unknown): void => onMessage(event);
    entry.handlers.add(handler);
    const current = entry;
    try {
      await current.ready;
    } catch (err) {
      current.handlers.delete(handler);
      throw err;
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      current.handlers.delete(handler);
      if (current.handlers.size === 0 && this.channels.get(channel) === current) {
        this.channels.delete(channel);
        await this.subscriber.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  /** Channels this client is subscribed to for events (tests, leak checks). */
  get subscribedChannels(): number {
    return this.channels.size;
  }

  /** Number of calls waiting for a reply. */
  get inFlight(): number {
    return this.pending.size;
  }

  async close(): Promise<void> {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      if (p.healthTimer) clearTimeout(p.healthTimer);
      p.reject(new JobCallError('unavailable', 'client closed', p.def.name));
      this.pending.delete(id);
    }
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.channels.clear();
    this.subscriber.disconnect();
    this.commands.disconnect();
  }

  private onEvent(channel: string, message: string): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    let event: unknown;
    try {
      event = JSON.parse(message);
    } catch {
      return; // not an event
    }
    for (const h of [...entry.handlers]) {
      try {
        h(event);
      } catch {
        // one handler's failure must not stop the others (nor the reply path)
      }
    }
  }

  private onReply(message: string): void {
    let msg: ReplyMessage;
    try {
      msg = JSON.parse(message) as ReplyMessage;
    } catch {
      return; // not ours
    }
    const p = this.settle(msg.id);
    if (!p) return;
    if (msg.ok) p.resolve(msg.result);
    else
      p.reject(
        new JobCallError(msg.error?.code ?? 'internal', msg.error?.message ?? 'job failed', p.def.name),
      );
  }

  /** While the call waits, withdraws or fails it when its consumer drains or dies. */
  private watchConsumer(id: string, health: () => Promise<ConsumerHealth>, everyMs: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    const check = async (): Promise<void> => {
      if (!this.pending.has(id)) return;
      const h = await health().catch((): ConsumerHealth => 'alive'); // unknown: keep waiting
      if (!this.pending.has(id)) return;
      if (h !== 'alive' && (await this.abandon(id, p, h))) return;
      p.healthTimer = setTimeout(() => void check(), everyMs);
    };
    p.healthTimer = setTimeout(() => void check(), everyMs);
  }

  /** Returns true when the call was settled (finished, withdrawn, or failed as lost). */
  private async abandon(id: string, p: Pending, health: Exclude<ConsumerHealth, 'alive'>): Promise<boolean> {
    if (await this.resolveFromState(id, p)) return true;
    const job = await this.queue(p.queue)
      .getJob(id)
      .catch(() => undefined);
    const state = job ? await job.getState().catch(() => 'unknown') : 'missing';
    if (job && (state === 'waiting' || state === 'delayed' || state === 'prioritized')) {
      const removed = await job.remove().then(
        () => true,
        () => false, // a worker took it meanwhile
      );
      if (removed && this.settle(id)) {
        p.reject(
          new JobCallError(
            'unavailable',
            `job "${p.def.name}" withdrawn from ${p.queue}: its consumer is ${health}`,
            p.def.name,
            true,
          ),
        );
        return true;
      }
      return false;
    }
    if (health === 'dead' && state === 'active' && this.settle(id)) {
      p.reject(
        new JobCallError(
          'unavailable',
          `the consumer of ${p.queue} died while running job "${p.def.name}"`,
          p.def.name,
        ),
      );
      return true;
    }
    return false;
  }

  private settle(id: string): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    clearTimeout(p.timer);
    if (p.healthTimer) clearTimeout(p.healthTimer);
    this.pending.delete(id);
    return p;
  }

  private async onTimeout(id: string): Promise<void> {
    const p = this.pending.get(id);
    if (!p) return;
    if (await this.resolveFromState(id, p)) return;
    this.settle(id);
    // Not finished in time: make sure it does not run later if it never started.
    const job = await this.queue(p.queue)
      .getJob(id)
      .catch(() => undefined);
    const state = job ? await job.getState().catch(() => 'unknown') : 'missing';
    if (job && (state === 'waiting' || state === 'delayed' || state === 'prioritized')) {
      await job.remove().catch(() => undefined); // it may have started meanwhile: then it just finishes
    }
    p.reject(
      new JobCallError(
        'timeout',
        `job "${p.def.name}" on ${p.queue} got no result in time (state: ${state})`,
        p.def.name,
      ),
    );
  }

  /** Settles a pending call from the job's stored state when it already finished. */
  private async resolveFromState(id: string, p: Pending): Promise<boolean> {
    const job: Job | undefined = await this.queue(p.queue)
      .getJob(id)
      .catch(() => undefined);
    if (!job) return false;
    if (job.finishedOn && job.failedReason) {
      this.settle(id);
      const e = parseJobError(job.failedReason);
      p.reject(new JobCallError(e.code, e.message, p.def.name));
      return true;
    }
    if (job.finishedOn) {
      this.settle(id);
      p.resolve(job.returnvalue);
      return true;
    }
    return false;
  }

  private async recheckPending(): Promise<void> {
    for (const [id, p] of [...this.pending]) await this.resolveFromState(id, p);
  }
}

/**
 * Makes a worker publish each job's outcome to the caller's reply channel. Call once per
 * worker; `publisher` is a plain (non-subscriber) connection.
 */
export function publishReplies(worker: Worker, publisher: Redis, prefix = DEFAULT_QUEUE_PREFIX): void {
  worker.on('completed', (job: Job, result: unknown) => {
    const to = replyTo(job);
    if (to) void publish(publisher, replyChannel(to, prefix), { id: job.id as string, ok: true, result });
  });
  worker.on('failed', (job: Job | undefined, err: Error) => {
    const to = job && replyTo(job);
    if (!job || !to) return;
    const error =
      err instanceof JobError ? { code: err.code, message: err.detail } : parseJobError(err.message);
    void publish(publisher, replyChannel(to, prefix), { id: job.id as string, ok: false, error });
  });
}

function replyTo(job: Job): string | undefined {
  const v = (job.data as Record<string, unknown> | undefined)?.[REPLY_TO_FIELD];
  return typeof v === 'string' ? v : undefined;
}

async function publish(publisher: Redis, channel: string, msg: ReplyMessage): Promise<void> {
  try {
    await publisher.publish(channel, JSON.stringify(msg));
  } catch {
    // The caller falls back to reading the job's stored state on timeout/reconnect.
  }
}

export { bullConnection };
