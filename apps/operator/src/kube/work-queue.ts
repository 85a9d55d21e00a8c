import { Logger } from '@nestjs/common';
import { PermanentError, TemporaryError } from './errors';

/** What a reconcile may ask for besides success: run again after `requeueAfterMs`. */
export interface ReconcileResult {
  requeueAfterMs?: number;
}

export type ReconcileOutcome = 'success' | 'temporary_error' | 'permanent_error' | 'error';

export interface WorkQueueOptions {
  /** Name in logs and metrics (e.g. `pool`). */
  name: string;
  /** Keys reconciled in parallel (never the same key twice at once). */
  concurrency: number;
  /** First retry delay after a failure, doubled per consecutive failure of the key, capped at maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Observes every finished reconcile (metrics). */
  onDone?: (outcome: ReconcileOutcome, durationMs: number) => void;
}

/**
 * A per-key work queue like client-go's: a key waits at most once; a key being reconciled is
 * never handed out again until that run ends (if it was added meanwhile it runs once more right
 * after); failures retry with per-key exponential backoff; `PermanentError` stops retries until
 * the key is added again (the object changed).
 */
export class WorkQueue {
  private readonly logger: Logger;
  private readonly ready: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  private started = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly opts: WorkQueueOptions,
    private readonly reconcile: (key: string) => Promise<ReconcileResult | void>,
  ) {
    this.logger = new Logger(`WorkQueue(${opts.name})`);
  }

  /** Starts handing out keys (keys added before are kept and run now). */
  start(): void {
    this.started = true;
    this.pump();
  }

  /** Stops handing out keys and waits for the reconciles in flight. Pending keys are dropped. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.ready.length = 0;
    this.queued.clear();
    this.dirty.clear();
    this.failures.clear();
    await Promise.all([...this.running]);
  }

  /** Queues `key` now (cancels a pending delayed add of it: the run reschedules if it needs to). */
  add(key: string): void {
    if (this.stopped) return;
    const t = this.timers.get(key);
    if (t) {
      clearTimeout(t.timer);
      this.timers.delete(key);
    }
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.ready.push(key);
    this.pump();
  }

  /** Queues `key` after `ms` (the earliest of several delayed adds wins). */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Keys waiting, delayed or running. */
  get size(): number {
    return new Set([...this.queued, ...this.processing, ...this.timers.keys()]).size;
  }

  /** Resolves when nothing is queued or running (delayed keys do not count). For tests and shutdown. */
  idle(): Promise<void> {
    if (this.ready.length === 0 && this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (
      this.started &&
      !this.stopped &&
      this.processing.size < this.opts.concurrency &&
      this.ready.length > 0
    ) {
      const key = this.ready.shift() as string;
      this.queued.delete(key);
      this.processing.add(key);
      const p = this.runOne(key).finally(() => {
        this.running.delete(p);
        this.processing.delete(key);
        if (this.dirty.delete(key)) this.add(key);
        this.pump();
        if (this.ready.length === 0 && this.processing.size === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          waiters.forEach((w) => w());
        }
      });
      this.running.add(p);
    }
  }

  private async runOne(key: string): Promise<void> {
    const started = Date.now();
    let outcome: ReconcileOutcome = 'success';
    try {
      const result = await this.reconcile(key);
      this.failures.delete(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      outcome = this.onError(key, err);
    }
    this.opts.onDone?.(outcome, Date.now() - started);
  }

  private onError(key: string, err: unknown): ReconcileOutcome {
    if (err instanceof PermanentError) {
      this.failures.delete(key);
      this.logger.warn(`${key}: permanent error, not retrying until it changes: ${err.message}`);
      return 'permanent_error';
    }
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const backoff = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.min(n - 1, 20));
    if (err instanceof TemporaryError) {
      const delay = err.delayMs ?? backoff;
      this.logger.log(`${key}: temporary error (attempt ${n}), retrying in ${delay} ms: ${err.message}`);
      this.addAfter(key, delay);
      return 'temporary_error';
    }
    this.logger.error(
      `${key}: reconcile failed (attempt ${n}), retrying in ${backoff} ms: ${(err as Error)?.stack ?? String(err)}`,
    );
    this.addAfter(key, backoff);
    return 'error';
  }
}
