import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Static } from '@sinclair/typebox';
import {
  JobCallError,
  PersistenceJobDefs,
  PodJobDefs,
  QueueNames,
  type JobDef,
  type JobRpcClient,
} from '@executor/queues';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { RPC } from '../core/tokens';
import { sessionNotFound, sessionPaused } from '../http/api-error';
import { PodGateway } from '../routing/pod-gateway.service';
import { SessionStates, SessionStore, type LoadResult, type SessionRecord } from '../state/session-store';
import { MigrationReason, MigrationService, openPayload } from './migration.service';

/** A session loaded for a call (owner checked, idle expiry moved). */
export type LiveSession = Extract<LoadResult, { status: 'ok' }>;

/**
 * The sticky path: load the session (one Lua round trip: ownership, expiry, bump, pod liveness),
 * move it first if its pod is gone, then run the job on its pod. A pod that lost the session
 * (`session_not_on_pod`, e.g. restarted) gets it re-opened from its snapshot and the job once more.
 */
@Injectable()
export class SessionCaller {
  private readonly logger = new Logger(SessionCaller.name);

  constructor(
    private readonly store: SessionStore,
    private readonly gateway: PodGateway,
    private readonly migration: MigrationService,
    @Inject(RPC) private readonly rpc: JobRpcClient,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
  ) {}

  /**
   * Loads a session of `tenant` and (unless `peek`) moves its idle expiry; 404 when missing,
   * expired or someone else's. Reading the session's metadata (GET) peeks: only use extends it.
   */
  async load(
    tenant: string,
    id: string,
    opts: { newTtlSeconds?: number; withMigrations?: boolean; peek?: boolean } = {},
  ): Promise<LiveSession> {
    const r = await this.store.load(id, tenant, opts.peek ? 'peek' : 'touch', opts);
    if (r.status !== 'ok') throw sessionNotFound(id);
    if (r.touchState) this.touchState(r.session);
    return r;
  }

  /** Runs a pod job for the session; `build` makes the payload once the session is known. */
  async call<D extends JobDef>(
    tenant: string,
    id: string,
    def: D,
    build: (s: SessionRecord) => Static<D['payload']> | Promise<Static<D['payload']>>,
    timeoutMs: number,
  ): Promise<{ session: SessionRecord; result: Static<D['result']> }> {
    const loaded = await this.load(tenant, id);
    return this.callLoaded(loaded, def, build, timeoutMs);
  }

  async callLoaded<D extends JobDef>(
    loaded: LiveSession,
    def: D,
    build: (s: SessionRecord) => Static<D['payload']> | Promise<Static<D['payload']>>,
    timeoutMs: number,
  ): Promise<{ session: SessionRecord; result: Static<D['result']> }> {
    let s = loaded.session;
    if (s.state && s.state !== SessionStates.active) throw sessionPaused(s.id, s.state);
    if (!loaded.podAlive) s = await this.migration.migrate(s, MigrationReason.HeartbeatLapsed);
    const payload = await build(s);
    try {
      return { session: s, result: await this.gateway.call(s.pool, s.pod, def, payload, { timeoutMs }) };
    } catch (err) {
      if (!(err instanceof JobCallError)) throw err;
      if (err.notStarted) return this.retryElsewhere(s, def, build, timeoutMs, err);
      if (err.code !== 'session_not_on_pod') throw err;
    }
    // The pod does not know the session (restarted): restore it there and try once more.
    this.logger.log(`session ${s.id} not on ${s.pod}: re-opening from its snapshot`);
    await this.gateway.call(s.pool, s.pod, PodJobDefs.open, openPayload(s, true), {
      timeoutMs: this.config.POD_CALL_TIMEOUT_MS,
    });
    const retryPayload = await build(s);
    return { session: s, result: await this.gateway.call(s.pool, s.pod, def, retryPayload, { timeoutMs }) };
  }

  /**
   * The pod went away before it started the job (drained or died): move the session to a live
   * pod (restored from its snapshot) and run the job there, once.
   */
  private async retryElsewhere<D extends JobDef>(
    s: SessionRecord,
    def: D,
    build: (s: SessionRecord) => Static<D['payload']> | Promise<Static<D['payload']>>,
    timeoutMs: number,
    cause: JobCallError,
  ): Promise<{ session: SessionRecord; result: Static<D['result']> }> {
    this.logger.log(`session ${s.id}: ${cause.message}; moving it`);
    const moved = await this.migration.migrate(s, MigrationReason.PodLost, { force: true });
    const payload = await build(moved);
    return {
      session: moved,
      result: await this.gateway.call(moved.pool, moved.pod, def, payload, { timeoutMs }),
    };
  }

  /** Moves the persisted state's expiry with the session's (fire-and-forget). */
  touchState(s: SessionRecord): void {
    this.rpc
      .send(QueueNames.persistenceAdmin, PersistenceJobDefs.touch, {
        sessionId: s.id,
        expiresAt: new Date(s.expiresAt).toISOString(),
      })
      .catch((err: Error) => this.logger.warn(`state touch of ${s.id} not sent: ${err.message}`));
  }
}
