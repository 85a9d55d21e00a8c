import { randomUUID } from 'node:crypto';
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
import { QuotaService } from '../limits/quota.service';
import { PodGateway } from '../routing/pod-gateway.service';
import { RouterService } from '../routing/router.service';
import { SessionStore, type Migration, type SessionRecord } from '../state/session-store';
import { openPayload } from './migration.service';
import { SessionCaller } from './session-caller.service';

/** Session as the API returns it. */
export interface SessionView {
  id: string;
  template: string;
  pool: string;
  pod: string;
  region: string;
  persist: boolean;
  status: 'active';
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
    status: 'active',
    ttlSeconds: s.ttlSeconds,
    createdAt: new Date(s.createdAt).toISOString(),
    expiresAt: new Date(s.expiresAt).toISOString(),
    env: s.env,
    metadata: s.metadata,
    ...(migrations ? { migrations, lastSnapshotAt: s.lastSnapshotAt ?? null } : {}),
  };
}

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
    private readonly events: SessionEventsService,
    private readonly quota: QuotaService,
    @Inject(RPC) private readonly rpc: JobRpcClient,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
  ) {}

  async create(tenant: string, body: CreateSessionBody, headerRegion?: string): Promise<SessionView> {
    if (!KNOWN_TEMPLATES.includes(body.template)) {
      throw new ApiError(
        'invalid_argument',
        `template: unknown template "${body.template}" (known: ${KNOWN_TEMPLATES.join(', ')})`,
      );
    }
    // The tenant's session quota (TENANT_MAX_SESSIONS), held until the session is recorded.
    const release = await this.quota.reserveSession(tenant);
    try {
      return await this.place(tenant, body, headerRegion);
    } finally {
      await release().catch((err: Error) => this.logger.warn(`quota release failed: ${err.message}`));
    }
  }

  private async place(tenant: string, body: CreateSessionBody, headerRegion?: string): Promise<SessionView> {
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
      return toView(record);
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
