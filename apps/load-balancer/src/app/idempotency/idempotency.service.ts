import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { createRedis } from '@executor/queues';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { REDIS } from '../core/tokens';
import { ApiError } from '../http/api-error';
import { MAX_TIMEOUT_MS } from '../http/schemas';
import { LbKeys } from '../state/keys';

/** A stored answer. */
export interface StoredAnswer {
  status: number;
  contentType: string;
  body: string;
}

interface Record_ {
  state: 'pending' | 'done';
  fingerprint: string;
  answer?: StoredAnswer;
}

/** What `begin` decided for a request. */
export type Begin =
  { kind: 'owner'; key: string; fingerprint: string } | { kind: 'replay'; answer: StoredAnswer };

/** Longest accepted Idempotency-Key (characters). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/**
 * `Idempotency-Key` on POST (tenant-scoped, IDEMPOTENCY_TTL_SECONDS): the first request with a
 * key takes it (`SET NX` of a pending record) and runs; its answer is stored under the key. A
 * repeat gets the stored answer without running anything; a concurrent repeat waits (pub/sub
 * on the key's channel, no polling) for the first to finish and gets the same answer. A repeat
 * with another method, path or body is 409. Answers meaning "not processed" (429, 503) are not
 * kept, so a retry runs; every other answer is (a 504 or 500 may have run: never run it again).
 */
@Injectable()
export class IdempotencyService implements OnApplicationShutdown {
  private readonly logger = new Logger(IdempotencyService.name);
  private readonly keys: LbKeys;
  private sub?: Redis;
  private readonly waiters = new Map<string, Set<() => void>>();
  /** A pending record outlives the longest request (an execution of MAX_TIMEOUT_MS). */
  private readonly pendingMs: number;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
  ) {
    this.keys = new LbKeys(config.QUEUE_PREFIX);
    this.pendingMs = MAX_TIMEOUT_MS + config.JOB_TIMEOUT_GRACE_MS + 30_000;
  }

  static fingerprint(method: string, url: string, body: unknown): string {
    const h = createHash('sha256').update(`${method} ${url}\n`);
    if (Buffer.isBuffer(body)) h.update(body);
    else h.update(JSON.stringify(body ?? null));
    return h.digest('hex');
  }

  /** Takes the key, or resolves with the answer to replay (waiting for a concurrent first request). */
  async begin(principal: string, idemKey: string, fingerprint: string): Promise<Begin> {
    if (idemKey.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(idemKey)) {
      throw new ApiError(
        'invalid_argument',
        `Idempotency-Key: 1-${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters without spaces`,
      );
    }
    const key = this.keys.idempotency(principal, createHash('sha256').update(idemKey).digest('hex'));
    const deadline = Date.now() + this.pendingMs;
    const pending = JSON.stringify({ state: 'pending', fingerprint } satisfies Record_);
    for (;;) {
      if ((await this.redis.set(key, pending, 'PX', this.pendingMs, 'NX')) === 'OK')
        return { kind: 'owner', key, fingerprint };
      const wait = this.waitFor(key);
      try {
        await wait.subscribed;
        const raw = await this.redis.get(key);
        if (raw === null) continue; // the first request was not processed (429/503): take it now
        const rec = JSON.parse(raw) as Record_;
        if (rec.fingerprint !== fingerprint)
          throw new ApiError(
            'conflict',
            'Idempotency-Key was already used for another request (method, path or body differ)',
          );
        if (rec.state === 'done' && rec.answer) return { kind: 'replay', answer: rec.answer };
        if (Date.now() > deadline)
          throw new ApiError('conflict', 'the request with this Idempotency-Key is still running');
        await wait.changed(deadline - Date.now());
      } finally {
        wait.cancel();
      }
    }
  }

  /** Records the owner's answer (or frees the key when the request was not processed). */
  async finish(key: string, fingerprint: string, answer: StoredAnswer | undefined): Promise<void> {
    try {
      if (!answer || answer.status === 429 || answer.status === 503) await this.redis.del(key);
      else
        await this.redis.set(
          key,
          JSON.stringify({ state: 'done', fingerprint, answer } satisfies Record_),
          'EX',
          this.config.IDEMPOTENCY_TTL_SECONDS,
        );
      await this.redis.publish(key, '1');
    } catch (err) {
      this.logger.warn(`idempotency record ${key} not stored: ${(err as Error).message}`);
    }
  }

  /** Subscribes to the key's channel; `changed` resolves on a message or after `ms`. */
  private waitFor(channel: string): {
    subscribed: Promise<void>;
    changed: (ms: number) => Promise<void>;
    cancel: () => void;
  } {
    const sub = this.subscriber();
    let wake: () => void = () => undefined;
    const fired = new Promise<void>((resolve) => (wake = resolve));
    let set = this.waiters.get(channel);
    const first = !set;
    if (!set) this.waiters.set(channel, (set = new Set()));
    set.add(wake);
    const subscribed = first ? sub.subscribe(channel).then(() => undefined) : Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    return {
      subscribed,
      changed: (ms) =>
        Promise.race([fired, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, ms))))]),
      cancel: () => {
        clearTimeout(timer);
        const s = this.waiters.get(channel);
        s?.delete(wake);
        if (s && s.size === 0) {
          this.waiters.delete(channel);
          void sub.unsubscribe(channel).catch(() => undefined);
        }
      },
    };
  }

  private subscriber(): Redis {
    if (!this.sub) {
      this.sub = createRedis(this.config.REDIS_URL, { connectionName: `lb-idem-${this.config.replicaId}` });
      this.sub.on('error', () => undefined);
      this.sub.on('message', (channel: string) => {
        for (const w of this.waiters.get(channel) ?? []) w();
      });
    }
    return this.sub;
  }

  onApplicationShutdown(): void {
    this.sub?.disconnect();
  }
}
