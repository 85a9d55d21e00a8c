import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { PodJobDefs, type OpenSessionPayload } from '@executor/queues';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { REDIS } from '../core/tokens';
import { ApiError, DEFAULT_RETRY_AFTER_SECONDS, sessionNotFound } from '../http/api-error';
import { SessionEventsService } from '../events/session-events.service';
import { LbMetrics } from '../metrics/metrics.service';
import { PodGateway } from '../routing/pod-gateway.service';
import { RouterService } from '../routing/router.service';
import { SessionStore, type Migration, type SessionRecord } from '../state/session-store';

/** Why a session moved (the `reason` of `migrations[]`). */
export const MigrationReason = {
  /** Its pod's heartbeat lapsed (found on use or by the sweeper). */
  HeartbeatLapsed: 'heartbeat_lapsed',
  /** The operator reported the pod deleted. */
  PodDeleted: 'pod_deleted',
  /** The pod drained or died while a call waited for it. */
  PodLost: 'pod_lost',
} as const;

const LOCK_TTL_MS = 60_000;
const WAIT_STEP_MS = 50;
const RELEASE_LOCK =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** The open payload of a session (new placement or restore after migration/restart). */
export function openPayload(s: SessionRecord, restore: boolean): OpenSessionPayload {
  return {
    sessionId: s.id,
    tenant: s.tenant,
    template: s.template,
    pool: s.pool,
    persist: s.persist,
    ttlSeconds: s.ttlSeconds,
    env: s.env,
    metadata: s.metadata,
    restore,
  };
}

/**
 * Moves a session off a dead pod onto a live pod of its pool, restored from its latest snapshot.
 * At most one replica migrates a session at a time (Redis lock); the assignment itself is a
 * compare-and-set, so a session is never moved twice for the same loss.
 */
@Injectable()
export class MigrationService {
  private readonly logger = new Logger(MigrationService.name);

  constructor(
    private readonly store: SessionStore,
    private readonly router: RouterService,
    private readonly gateway: PodGateway,
    private readonly events: SessionEventsService,
    private readonly metrics: LbMetrics,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
  ) {}

  /**
   * Runs `fn` holding the session's move lock (the one migrations take): pause and resume never
   * interleave with a migration or with each other. Waits up to a minute for the lock.
   */
  async withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const lockKey = this.store.keys.migrationLock(id);
    const token = `${this.config.replicaId}:${randomUUID()}`;
    const deadline = Date.now() + LOCK_TTL_MS;
    while (!(await this.redis.set(lockKey, token, 'PX', LOCK_TTL_MS, 'NX'))) {
      if (Date.now() > deadline) throw new ApiError('unavailable', `session "${id}" is busy; retry`, 1);
      await new Promise((r) => setTimeout(r, WAIT_STEP_MS));
    }
    try {
      return await fn();
    } finally {
      await this.redis.eval(RELEASE_LOCK, 1, lockKey, token).catch(() => undefined);
    }
  }

  /** Returns the session on a live pod (migrated by us or by another replica meanwhile). */
  async migrate(s: SessionRecord, reason: string, opts: { force?: boolean } = {}): Promise<SessionRecord> {
    const lockKey = this.store.keys.migrationLock(s.id);
    const token = `${this.config.replicaId}:${randomUUID()}`;
    const deadline = Date.now() + LOCK_TTL_MS;
    while (!(await this.redis.set(lockKey, token, 'PX', LOCK_TTL_MS, 'NX'))) {
      // Another replica is migrating it: wait for the assignment to change (or the lock to go).
      const cur = await this.store.load(s.id, '*', 'peek');
      if (cur.status !== 'ok') throw sessionNotFound(s.id);
      if (cur.session.pod !== s.pod) return cur.session;
      if (Date.now() > deadline)
        throw new ApiError('unavailable', `session "${s.id}" is being moved; retry`, 1);
      await new Promise((r) => setTimeout(r, WAIT_STEP_MS));
    }
    try {
      return await this.migrateLocked(s, reason, opts.force ?? false);
    } finally {
      await this.redis.eval(RELEASE_LOCK, 1, lockKey, token).catch(() => undefined);
    }
  }

  /** `force`: move even if the pod still has a heartbeat (the operator says it is being deleted). */
  private async migrateLocked(s: SessionRecord, reason: string, force: boolean): Promise<SessionRecord> {
    const cur = await this.store.load(s.id, '*', 'peek');
    if (cur.status !== 'ok') throw sessionNotFound(s.id);
    if (cur.session.pod !== s.pod) return cur.session; // another replica moved it meanwhile
    if (cur.podAlive && !force) return cur.session; // the pod came back
    const from = cur.session.pod;
    const target = await this.router.podInPool(cur.session.pool, from);
    if (!target) {
      this.metrics.migration(reason, 'failed');
      throw new ApiError(
        'unavailable',
        `session "${s.id}" lost its pod and pool "${cur.session.pool}" has no live pod with capacity`,
        DEFAULT_RETRY_AFTER_SECONDS,
      );
    }
    const moved: SessionRecord = { ...cur.session, pod: target.pod };
    try {
      await this.gateway.call(moved.pool, moved.pod, PodJobDefs.open, openPayload(moved, true), {
        timeoutMs: this.config.POD_CALL_TIMEOUT_MS,
      });
    } catch (err) {
      this.metrics.migration(reason, 'failed');
      throw err;
    }
    const migration: Migration = { from, to: target.pod, at: new Date().toISOString(), reason };
    const r = await this.store.move(s.id, from, target.pod, migration);
    if (r === 'missing') throw sessionNotFound(s.id);
    if (r === 'lost') {
      const now = await this.store.load(s.id, '*', 'peek');
      if (now.status !== 'ok') throw sessionNotFound(s.id);
      return now.session;
    }
    this.metrics.migration(reason, 'migrated');
    this.logger.log(`session ${s.id} moved ${from} → ${target.pod} (${reason})`);
    await this.events.migrated(moved, migration);
    if (cur.podAlive) {
      // The old pod still runs (operator-driven move): free the kernel there, keep the state.
      this.gateway
        .call(
          moved.pool,
          from,
          PodJobDefs.close,
          { sessionId: s.id, tenant: s.tenant, deleteState: false, reason: 'migrated' },
          { timeoutMs: this.config.POD_CALL_TIMEOUT_MS },
        )
        .catch((err: Error) =>
          this.logger.warn(`close of ${s.id} on old pod ${from} failed: ${err.message}`),
        );
    }
    return moved;
  }
}
