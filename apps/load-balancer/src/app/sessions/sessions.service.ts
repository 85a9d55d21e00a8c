import { randomBytes, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { CircuitOpenError } from '@executor/circuit-breaker';
import {
  JobCallError,
  PersistenceJobDefs,
  PodJobDefs,
  QueueNames,
  podHeartbeat,
  type JobRpcClient,
} from '@executor/queues';
import type Redis from 'ioredis';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { REDIS, RPC } from '../core/tokens';
import { SessionEventsService } from '../events/session-events.service';
import { ApiError, sessionNotFound } from '../http/api-error';
import { KNOWN_TEMPLATES, type CreateSessionBody } from '../http/schemas';
import { PodGateway } from '../routing/pod-gateway.service';
import { RouterService } from '../routing/router.service';
import {
  SessionStates,
  SessionStore,
  type Migration,
  type SessionRecord,
  type SessionState,
} from '../state/session-store';
import { MigrationService, openPayload } from './migration.service';
import { SessionCaller } from './session-caller.service';

/** Session as the API returns it. */
export interface SessionView {
  id: string;
  template: string;
  pool: string;
  pod: string;
  region: string;
  persist: boolean;
  /** `active`, or `pausing`/`paused` for a paused session (E2B pause; no pod). */
  status: SessionState;
  ttlSeconds: number;
  createdAt: string;
  expiresAt: string;
  env: Record<string, string>;
  metadata: Record<string, string>;
  migrations?: Migration[];
  lastSnapshotAt?: string | null;
}

export const DEFAULT_TTL_SECONDS = 300;
/** Attempts at placing a new session (each on another pool after an infrastructure failure). */
const PLACEMENT_ATTEMPTS = 3;
const SESSION_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

export function toView(s: SessionRecord, migrations?: Migration[]): SessionView {
  return {
    id: s.id,
    template: s.template,
    pool: s.pool,
    pod: s.pod,
    region: s.region,
    persist: s.persist,
    status: s.state ?? SessionStates.active,
    ttlSeconds: s.ttlSeconds,
    createdAt: new Date(s.createdAt).toISOString(),
    expiresAt: new Date(s.expiresAt).toISOString(),
    env: s.env,
    metadata: s.metadata,
    ...(migrations ? { migrations, lastSnapshotAt: s.lastSnapshotAt ?? null } : {}),
  };
}

/** Options of a new session beyond the public body. */
export interface CreateOptions {
  /** Absolute expiry (E2B's timeout): use does not move it, only a new TTL does. */
  fixedExpiry?: boolean;
  /** Issue sandbox-plane tokens now (E2B `envdAccessToken`/`trafficAccessToken`). */
  issueTokens?: boolean;
}

/** A fresh sandbox-plane token: 32 random bytes, base64url. */
export function newSandboxToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Why a session moved back onto a pod (the `reason` of `migrations[]`). */
export const RESUMED_REASON = 'resumed';

/** A session id from a URL: anything malformed cannot exist (404, like a missing one). */
export function checkSessionId(id: string): string {
  if (!SESSION_ID_RE.test(id)) throw sessionNotFound(id.slice(0, 128));
  return id;
}

@Injectable()
export class SessionsService {
  private readonly logger = new Logger(SessionsService.name);

  constructor(
    private readonly store: SessionStore,
    private readonly router: RouterService,
    private readonly gateway: PodGateway,
    private readonly caller: SessionCaller,
    private readonly migration: MigrationService,
    private readonly events: SessionEventsService,
    @Inject(RPC) private readonly rpc: JobRpcClient,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
  ) {}

  async create(tenant: string, body: CreateSessionBody, headerRegion?: string): Promise<SessionView> {
    return toView(await this.createRecord(tenant, body, headerRegion));
  }

  /** Places and opens a new session; the stored record (tokens included). */
  async createRecord(
    tenant: string,
    body: CreateSessionBody,
    headerRegion?: string,
    opts: CreateOptions = {},
  ): Promise<SessionRecord> {
    if (!KNOWN_TEMPLATES.includes(body.template)) {
      throw new ApiError(
        'invalid_argument',
        `template: unknown template "${body.template}" (known: ${KNOWN_TEMPLATES.join(', ')})`,
      );
    }
    const region = body.region ?? headerRegion;
    const now = Date.now();
    const ttlSeconds = body.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    const base = {
      id: `ses-${randomUUID().replace(/-/g, '')}`,
      tenant,
      template: body.template,
      persist: body.persist ?? true,
      ttlSeconds,
      createdAt: now,
      expiresAt: now + ttlSeconds * 1000,
      env: body.env ?? {},
      metadata: body.metadata ?? {},
      fixedExpiry: opts.fixedExpiry ?? false,
      ...(opts.issueTokens ? { accessToken: newSandboxToken(), trafficToken: newSandboxToken() } : {}),
    };
    const excluded = new Set<string>();
    let lastError: unknown;
    for (let attempt = 0; attempt < PLACEMENT_ATTEMPTS; attempt++) {
      const placement = await this.router.place(body.template, region, excluded);
      const record: SessionRecord = {
        ...base,
        pool: placement.pool.name,
        pod: placement.pod.pod,
        region: placement.pool.region || placement.pod.region || '',
      };
      try {
        await this.gateway.call(record.pool, record.pod, PodJobDefs.open, openPayload(record, false), {
          timeoutMs: this.config.POD_CALL_TIMEOUT_MS,
          strict: true,
        });
      } catch (err) {
        if (!isRetriablePlacementError(err)) throw err;
        lastError = err;
        excluded.add(record.pool);
        continue;
      }
      record.expiresAt = Date.now() + ttlSeconds * 1000;
      try {
        await this.store.create(record);
      } catch (err) {
        // Not recorded: do not leave a kernel behind on the pod.
        await this.close(record, 'deleted');
        throw err;
      }
      await this.events.created(record);
      return record;
    }
    throw lastError;
  }

  async get(tenant: string, id: string): Promise<SessionView> {
    const r = await this.caller.load(tenant, checkSessionId(id), { withMigrations: true, peek: true });
    return toView(r.session, r.migrations);
  }

  async list(tenant: string): Promise<SessionView[]> {
    return (await this.store.listForTenant(tenant)).map((s) => toView(s));
  }

  async extend(tenant: string, id: string, ttlSeconds: number): Promise<SessionView> {
    const r = await this.caller.load(tenant, checkSessionId(id), {
      newTtlSeconds: ttlSeconds,
      withMigrations: true,
    });
    return toView(r.session, r.migrations);
  }

  /** Explicit DELETE: forget the session, close its kernel, delete its persisted state. */
  async delete(tenant: string, id: string): Promise<void> {
    const s = await this.store.remove(checkSessionId(id), tenant);
    if (!s) throw sessionNotFound(id);
    await this.close(s, 'deleted');
    await this.events.deleted(s);
  }

  /** Closes the kernel (when the pod is alive) and deletes the persisted state (durable job). */
  async close(s: SessionRecord, reason: 'deleted' | 'expired'): Promise<void> {
    const alive = await podHeartbeat(this.redis, s.pod, this.config.QUEUE_PREFIX).catch(() => undefined);
    if (alive) {
      await this.gateway
        .call(
          s.pool,
          s.pod,
          PodJobDefs.close,
          { sessionId: s.id, tenant: s.tenant, deleteState: true, reason },
          { timeoutMs: this.config.POD_CALL_TIMEOUT_MS },
        )
        .catch((err: Error) => this.logger.warn(`close of ${s.id} on ${s.pod} failed: ${err.message}`));
    }
    await this.rpc
      .send(QueueNames.persistenceAdmin, PersistenceJobDefs.delete, { sessionId: s.id })
      .catch((err: Error) => this.logger.warn(`state delete of ${s.id} not enqueued: ${err.message}`));
  }

  /** The session's sandbox-plane tokens, issued now if it has none yet. */
  async tokens(s: SessionRecord): Promise<{ accessToken: string; trafficToken: string }> {
    if (s.accessToken && s.trafficToken) return { accessToken: s.accessToken, trafficToken: s.trafficToken };
    const t = await this.store.ensureTokens(s.id, {
      accessToken: newSandboxToken(),
      trafficToken: newSandboxToken(),
    });
    if (!t) throw sessionNotFound(s.id);
    return t;
  }

  /**
   * Pause: persist the session, then release its kernel and pod slot (state kept, files, env and
   * packages with it); the session stays listed as `paused` until resumed or
   * PAUSED_SESSION_TTL_SECONDS pass. False when it is not running (already paused or pausing).
   */
  async pause(tenant: string, id: string): Promise<boolean> {
    const first = await this.caller.load(tenant, checkSessionId(id), { peek: true });
    if (first.session.state !== SessionStates.active) return false;
    return this.migration.withLock(id, async () => {
      if (!(await this.store.setState(id, SessionStates.active, SessionStates.pausing))) return false;
      let paused = false;
      try {
        const cur = await this.store.load(id, tenant, 'peek');
        if (cur.status !== 'ok') throw sessionNotFound(id);
        const s = cur.session;
        if (!cur.podAlive)
          throw new ApiError('unavailable', `session "${id}" is moving to another pod; retry the pause`, 1);
        const snap = await this.gateway.call(
          s.pool,
          s.pod,
          PodJobDefs.persist,
          { sessionId: s.id, tenant: s.tenant },
          { timeoutMs: this.config.POD_CALL_TIMEOUT_MS },
        );
        await this.store.setLastSnapshot(id, snap.at);
        const expiresAt = Date.now() + this.config.PAUSED_SESSION_TTL_SECONDS * 1000;
        if (!(await this.store.pause(id, s.pod, expiresAt))) throw sessionNotFound(id);
        paused = true;
        // The snapshot outlives the pause: its retention follows the paused session's expiry.
        this.caller.touchState({ ...s, expiresAt });
        await this.gateway
          .call(
            s.pool,
            s.pod,
            PodJobDefs.close,
            { sessionId: s.id, tenant: s.tenant, deleteState: false, reason: 'paused' },
            { timeoutMs: this.config.POD_CALL_TIMEOUT_MS },
          )
          .catch((err: Error) =>
            this.logger.warn(`close of paused ${id} on ${s.pod} failed: ${err.message}`),
          );
        return true;
      } finally {
        if (!paused) await this.store.setState(id, SessionStates.pausing, SessionStates.active);
      }
    });
  }

  /**
   * Resume a paused session on a live pod of its pool (else any pool of its template), restored
   * from its snapshot: same id, files, env and packages; kernels start empty. The expiry becomes
   * now + `ttlSeconds` (default: its TTL). `resumed` false when it was running already.
   */
  async resume(
    tenant: string,
    id: string,
    ttlSeconds?: number,
  ): Promise<{ session: SessionRecord; resumed: boolean }> {
    const first = await this.caller.load(tenant, checkSessionId(id), { peek: true });
    if (first.session.state === SessionStates.active) return { session: first.session, resumed: false };
    return this.migration.withLock(id, async () => {
      const cur = await this.store.load(id, tenant, 'peek');
      if (cur.status !== 'ok') throw sessionNotFound(id);
      if (cur.session.state === SessionStates.active) return { session: cur.session, resumed: false };
      if (cur.session.state !== SessionStates.paused)
        throw new ApiError('unavailable', `session "${id}" is being paused; retry`, 1);
      const ttl = ttlSeconds ?? cur.session.ttlSeconds;
      const inPool = await this.router.podInPool(cur.session.pool, '');
      const target = inPool
        ? { pool: cur.session.pool, pod: inPool.pod }
        : await this.router
            .place(cur.session.template, cur.session.region || undefined)
            .then((p) => ({ pool: p.pool.name, pod: p.pod.pod }));
      const s: SessionRecord = {
        ...cur.session,
        pool: target.pool,
        pod: target.pod,
        ttlSeconds: ttl,
        state: SessionStates.active,
        expiresAt: Date.now() + ttl * 1000,
      };
      await this.gateway.call(s.pool, s.pod, PodJobDefs.open, openPayload(s, true), {
        timeoutMs: this.config.POD_CALL_TIMEOUT_MS,
      });
      const migration: Migration = {
        from: '',
        to: s.pod,
        at: new Date().toISOString(),
        reason: RESUMED_REASON,
      };
      if (!(await this.store.resume(id, s.pool, s.pod, ttl, migration))) {
        await this.close(s, 'deleted'); // removed meanwhile: do not leave a kernel behind
        throw sessionNotFound(id);
      }
      this.caller.touchState(s);
      await this.events.migrated(s, migration);
      return { session: s, resumed: true };
    });
  }

  async persist(tenant: string, id: string): Promise<{ version: number; bytes: number; at: string }> {
    const { result } = await this.caller.call(
      tenant,
      checkSessionId(id),
      PodJobDefs.persist,
      (s) => ({ sessionId: s.id, tenant: s.tenant }),
      this.config.POD_CALL_TIMEOUT_MS,
    );
    await this.store.setLastSnapshot(id, result.at);
    return { version: result.version, bytes: result.bytes, at: result.at };
  }
}

/** Placement failures worth another pool: open circuit, or the pod did not answer / crashed / is full. */
function isRetriablePlacementError(err: unknown): boolean {
  if (err instanceof CircuitOpenError) return true;
  return (
    err instanceof JobCallError && ['timeout', 'unavailable', 'internal', 'rate_limited'].includes(err.code)
  );
}
