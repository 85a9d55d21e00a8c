import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type Redis from 'ioredis';
import { heartbeatKeys } from '@executor/queues';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { REDIS } from '../core/tokens';
import { QueueConsumersService } from '../events/queue-consumers.service';
import { SessionEventsService } from '../events/session-events.service';
import { MigrationReason } from '../sessions/migration.service';
import { SessionsService } from '../sessions/sessions.service';
import { SessionStore } from '../state/session-store';

/** Expired sessions closed in parallel by one sweep. */
const EXPIRY_CONCURRENCY = 16;

/** Back-off before retrying the sessions of a dead pod that could not be moved (no live pod in its pool). */
const ORPHAN_RETRY_MS = 10_000;

/**
 * Runs on every replica, every SESSION_SWEEP_INTERVAL_MS:
 * - expiry: each due session is claimed atomically (removed only if still expired, by exactly
 *   one replica), then its kernel is closed and its state deleted, and `session.expired` sent;
 * - orphans: sessions assigned to pods whose heartbeat lapsed are migrated eagerly.
 */
@Injectable()
export class SweeperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SweeperService.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  /** Pods whose sessions could not all be moved: when to try again (back-off, quiet logs). */
  private readonly retryAt = new Map<string, number>();

  constructor(
    private readonly store: SessionStore,
    private readonly sessions: SessionsService,
    private readonly events: SessionEventsService,
    private readonly consumers: QueueConsumersService,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.sweep().finally(() => (this.running = undefined));
    }, this.config.SESSION_SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async sweep(): Promise<void> {
    await this.expire().catch((err: Error) => this.logger.warn(`expiry sweep failed: ${err.message}`));
    await this.rescueOrphans().catch((err: Error) => this.logger.warn(`orphan sweep failed: ${err.message}`));
  }

  /** Expires every due session; returns how many this replica claimed. */
  async expire(now = Date.now()): Promise<number> {
    const due = await this.store.dueExpired(now);
    let claimed = 0;
    // A few at a time: one hung pod must not hold up every other expiry.
    for (let i = 0; i < due.length; i += EXPIRY_CONCURRENCY) {
      const batch = due.slice(i, i + EXPIRY_CONCURRENCY).map(async (id) => {
        const s = await this.store.remove(id, '*', now);
        if (!s) return; // touched meanwhile, or another replica claimed it
        claimed++;
        await this.sessions.close(s, 'expired');
        await this.events.expired(s);
      });
      await Promise.all(batch);
    }
    return claimed;
  }

  /** Migrates the sessions of pods whose heartbeat lapsed. */
  async rescueOrphans(): Promise<void> {
    const pods = await this.store.podsWithSessions();
    if (!pods.length) return;
    const alive = await this.redis
      .pipeline(pods.map((p) => ['exists', heartbeatKeys.pod(p, this.config.QUEUE_PREFIX)]))
      .exec();
    const now = Date.now();
    for (const [i, pod] of pods.entries()) {
      if (alive?.[i]?.[1] === 1 || (this.retryAt.get(pod) ?? 0) > now) continue;
      const r = await this.consumers.migratePod(pod, MigrationReason.HeartbeatLapsed);
      if (r.failed) this.retryAt.set(pod, now + ORPHAN_RETRY_MS);
      else this.retryAt.delete(pod);
      if (r.migrated || r.failed)
        this.logger.log(`pod ${pod} is gone: ${r.migrated} sessions moved, ${r.failed} failed`);
    }
  }
}
