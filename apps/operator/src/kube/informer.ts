import { Logger } from '@nestjs/common';
import * as k8s from '@kubernetes/client-node';
import type { KubeClient, KubeObject } from './kube-client';

export type InformerEvent = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (event: InformerEvent, obj: T, old?: T) => void;

export interface InformerOptions {
  /** Name in logs and metrics, e.g. `pods`. */
  name: string;
  /** Collection path, e.g. `/api/v1/pods` or `/api/v1/namespaces/x/pods`. */
  path: string;
  labelSelector?: string;
  /** Full re-list (and a replay of every object to the handlers) this often; 0 disables. */
  resyncMs: number;
  /** Backoff after a failed list/watch: first delay and cap (ms). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Called on every watch restart with its reason (`gone`, `error`, `closed`, `resync`). */
  onRestart?: (reason: WatchRestartReason) => void;
}

export type WatchRestartReason = 'gone' | 'error' | 'closed' | 'resync';

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject & { code?: number; message?: string };
}

/** Thrown inside the loop for an ERROR watch event (410 Gone or another Status). */
class WatchStatusError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const key = (o: KubeObject): string =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;

/**
 * A list+watch cache of one resource, like client-go's reflector + informer:
 * - lists (paged), then watches from the list's resourceVersion with bookmarks;
 * - a watch the server closes normally is resumed from the last resourceVersion seen;
 * - 410 Gone (resourceVersion too old) re-lists at once; the cache is diffed against the new list,
 *   so deletions missed meanwhile are delivered as `delete`;
 * - any other failure restarts list+watch after an exponential backoff capped at `backoffMaxMs`;
 * - every `resyncMs` a full re-list replays every object to the handlers (`update` with old === obj).
 * `start()` resolves after the first successful list (the cache is synced).
 */
export class Informer<T extends KubeObject = KubeObject> {
  private readonly logger: Logger;
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly watch: k8s.Watch;
  private resourceVersion = '';
  private stopped = true;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private resyncDue = false;
  private failures = 0;
  private syncedResolve: (() => void) | undefined;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: InformerOptions,
  ) {
    this.logger = new Logger(`Informer(${opts.name})`);
    this.watch = new k8s.Watch(client.kc);
  }

  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(namespace ? `${namespace}/${name}` : name);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** Starts list+watch; resolves once the first list has filled the cache. */
  start(): Promise<void> {
    if (!this.stopped) throw new Error(`informer ${this.opts.name} already started`);
    this.stopped = false;
    const synced = new Promise<void>((resolve) => (this.syncedResolve = resolve));
    this.loop = this.run();
    if (this.opts.resyncMs > 0) {
      this.resyncTimer = setInterval(() => this.requestResync(), this.opts.resyncMs);
      this.resyncTimer.unref();
    }
    return synced;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.abort?.abort();
    this.wake?.();
    this.syncedResolve?.();
    this.syncedResolve = undefined;
    // A watch whose response headers never came cannot be aborted yet (client-node hands out the
    // AbortController after them): do not wait for it forever; its loop ends when it answers.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.loop, new Promise<void>((r) => (timer = setTimeout(r, 5000)))]);
    clearTimeout(timer);
  }

  /** Re-lists now and replays every object (what the periodic resync does). */
  requestResync(): void {
    this.resyncDue = true;
    this.abort?.abort();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.resourceVersion || this.resyncDue) await this.relist();
        await this.watchOnce();
        this.opts.onRestart?.(this.resyncDue ? 'resync' : 'closed');
      } catch (err) {
        if (this.stopped) break;
        if (this.resyncDue) {
          this.opts.onRestart?.('resync');
          continue;
        }
        if (err instanceof WatchStatusError && err.code === 410) {
          this.logger.debug(`watch expired (410 Gone): re-listing`);
          this.resourceVersion = '';
          this.opts.onRestart?.('gone');
          continue;
        }
        this.failures++;
        const delay = this.backoff();
        this.logger.warn(`list/watch failed (${(err as Error).message}); retrying in ${delay} ms`);
        this.opts.onRestart?.('error');
        await this.sleep(delay);
      }
    }
  }

  private backoff(): number {
    const initial = this.opts.backoffInitialMs ?? 200;
    const max = this.opts.backoffMaxMs ?? 30_000;
    const d = Math.min(max, initial * 2 ** Math.min(this.failures - 1, 20));
    return Math.round(d * (0.8 + Math.random() * 0.4));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async relist(): Promise<void> {
    const replay = this.resyncDue;
    this.resyncDue = false;
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.client.list<T>(this.opts.path, {
        labelSelector: this.opts.labelSelector,
        limit: 500,
        continue: cont,
      });
      items.push(...page.items);
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion ?? '';
    } while (cont);
    const seen = new Set<string>();
    for (const item of items) {
      const k = key(item);
      seen.add(k);
      const old = this.cache.get(k);
      this.cache.set(k, item);
      if (!old) this.emit('add', item);
      else if (replay || old.metadata.resourceVersion !== item.metadata.resourceVersion)
        this.emit('update', item, old);
    }
    for (const [k, old] of [...this.cache]) {
      if (!seen.has(k)) {
        this.cache.delete(k);
        this.emit('delete', old);
      }
    }
    this.resourceVersion = rv;
    this.failures = 0;
    if (this.syncedResolve) {
      this.syncedResolve();
      this.syncedResolve = undefined;
    }
  }

  /** One watch request; resolves when the server closes it, rejects on an error. */
  private async watchOnce(): Promise<void> {
    // Servers end watches after timeoutSeconds; a random 5–10 min spreads the re-watches.
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    let failure: Error | undefined;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const done = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        if (failure) reject(failure);
        else if (err && !(err instanceof Error && err.name === 'AbortError')) reject(err as Error);
        else resolve();
      };
      this.watch
        .watch(
          this.opts.path,
          {
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds,
            labelSelector: this.opts.labelSelector,
          },
          (type: string, object: WatchEvent['object']) => {
            if (settled || failure) return;
            try {
              this.onEvent({ type, object } as WatchEvent);
            } catch (err) {
              failure = err as Error;
              this.abort?.abort();
            }
          },
          (err: unknown) => {
            const status = (err as { statusCode?: number } | null)?.statusCode;
            done(status === 410 ? new WatchStatusError(410, 'Gone') : err);
          },
        )
        .then((ctrl) => {
          this.abort = ctrl;
          if (this.stopped || this.resyncDue) ctrl.abort();
        }, done);
    });
    if (!failure) this.failures = 0;
  }

  private onEvent(ev: WatchEvent): void {
    if (ev.type === 'ERROR') {
      throw new WatchStatusError(ev.object.code ?? 500, ev.object.message ?? 'watch error');
    }
    const rv = ev.object.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (ev.type === 'BOOKMARK') return;
    const k = key(ev.object as T);
    const old = this.cache.get(k);
    if (ev.type === 'DELETED') {
      this.cache.delete(k);
      this.emit('delete', ev.object as T, old);
      return;
    }
    this.cache.set(k, ev.object as T);
    this.emit(old ? 'update' : 'add', ev.object as T, old);
  }

  private emit(event: InformerEvent, obj: T, old?: T): void {
    for (const h of this.handlers) {
      try {
        h(event, obj, old);
      } catch (err) {
        this.logger.error(`handler failed on ${event} ${key(obj)}: ${(err as Error).message}`);
      }
    }
  }
}
