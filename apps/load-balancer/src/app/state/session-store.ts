import type Redis from 'ioredis';
import { PodHeartbeat, type ConsumerHealth } from '@executor/queues';
import { Value } from '@sinclair/typebox/value';
import { LbKeys } from './keys';
import {
  ENSURE_TOKENS,
  LOAD_SESSION,
  MOVE_SESSION,
  PAUSE_SESSION,
  PUSH_HISTORY,
  REMOVE_SESSION,
  RESUME_SESSION,
  SET_STATE,
} from './scripts';

/** A session as stored in Redis. Times are epoch milliseconds. */
export interface SessionRecord {
  id: string;
  tenant: string;
  template: string;
  pool: string;
  pod: string;
  region: string;
  persist: boolean;
  ttlSeconds: number;
  createdAt: number;
  expiresAt: number;
  env: Record<string, string>;
  metadata: Record<string, string>;
  lastSnapshotAt?: string;
  /** `active` (on a pod), `pausing` (being persisted and released), `paused` (no pod). Default active. */
  state?: SessionState;
  /** The expiry does not move with use (E2B's absolute timeout); only an explicit new TTL moves it. */
  fixedExpiry?: boolean;
  /** Sandbox-plane credentials (E2B `envdAccessToken` / `trafficAccessToken`), issued on first need. */
  accessToken?: string;
  trafficToken?: string;
  /** Epoch ms of the last pause (paused sessions). */
  pausedAt?: number;
}

export const SessionStates = { active: 'active', pausing: 'pausing', paused: 'paused' } as const;
export type SessionState = (typeof SessionStates)[keyof typeof SessionStates];

export interface Migration {
  from: string;
  to: string;
  at: string;
  reason: string;
}

export interface HistoryEntry {
  id: string;
  code: string;
  exitCode: number;
  durationMs: number;
  at: string;
  timedOut?: boolean;
}

/** Outcome of {@link SessionStore.load}. */
export type LoadResult =
  | { status: 'missing' }
  | { status: 'expired' }
  | { status: 'ok'; session: SessionRecord; podAlive: boolean; touchState: boolean; migrations: Migration[] };

export const LoadMode = { touch: 'touch', peek: 'peek' } as const;
export type LoadMode = (typeof LoadMode)[keyof typeof LoadMode];

interface ScriptedRedis extends Redis {
  lbLoadSession(...args: string[]): Promise<unknown[]>;
  lbSetState(...args: string[]): Promise<number>;
  lbPauseSession(...args: string[]): Promise<number>;
  lbResumeSession(...args: string[]): Promise<number>;
  lbEnsureTokens(...args: string[]): Promise<string[]>;
  lbRemoveSession(...args: string[]): Promise<string[]>;
  lbMoveSession(...args: string[]): Promise<number>;
  lbPushHistory(...args: string[]): Promise<number>;
}

/** Longest code kept in the execution history (characters); longer code is cut with a marker. */
export const HISTORY_CODE_MAX = 64 * 1024;

/**
 * The session state of the load balancer, in Redis (shared by every replica). Every method
 * is one round trip (Lua script or pipeline).
 */
export class SessionStore {
  readonly keys: LbKeys;
  private readonly redis: ScriptedRedis;

  constructor(
    redis: Redis,
    prefix: string,
    private readonly historyLimit: number,
  ) {
    this.keys = new LbKeys(prefix);
    redis.defineCommand('lbLoadSession', { numberOfKeys: 0, lua: LOAD_SESSION });
    redis.defineCommand('lbRemoveSession', { numberOfKeys: 0, lua: REMOVE_SESSION });
    redis.defineCommand('lbMoveSession', { numberOfKeys: 0, lua: MOVE_SESSION });
    redis.defineCommand('lbPushHistory', { numberOfKeys: 0, lua: PUSH_HISTORY });
    redis.defineCommand('lbSetState', { numberOfKeys: 0, lua: SET_STATE });
    redis.defineCommand('lbPauseSession', { numberOfKeys: 0, lua: PAUSE_SESSION });
    redis.defineCommand('lbResumeSession', { numberOfKeys: 0, lua: RESUME_SESSION });
    redis.defineCommand('lbEnsureTokens', { numberOfKeys: 0, lua: ENSURE_TOKENS });
    this.redis = redis as ScriptedRedis;
  }

  /** Remembers that a pod was reported deleted (its heartbeat may linger a few seconds). */
  async markPodGone(pod: string, ttlMs = 60_000): Promise<void> {
    await this.redis.set(this.keys.podGone(pod), '1', 'PX', ttlMs);
  }

  /**
   * One round trip: `dead` without a heartbeat, `draining` when reported deleted or not
   * accepting work (SIGTERM), else `alive`.
   */
  async podHealth(pod: string): Promise<ConsumerHealth> {
    const [hb, gone] = await this.redis.mget(`${this.keys.heartbeatPod}${pod}`, this.keys.podGone(pod));
    if (!hb) return 'dead';
    let beat: unknown;
    try {
      beat = JSON.parse(hb);
    } catch {
      return 'dead';
    }
    if (!Value.Check(PodHeartbeat, beat)) return 'dead';
    return gone || !beat.accepting ? 'draining' : 'alive';
  }

  /** Records a new session and every index entry. */
  async create(s: SessionRecord): Promise<void> {
    const k = this.keys;
    await this.redis
      .multi()
      .hset(k.session(s.id), toHash(s))
      .zadd(k.expiry, s.expiresAt, s.id)
      .sadd(k.tenant(s.tenant), s.id)
      .sadd(k.podSessions(s.pod), s.id)
      .sadd(k.poolSessions(s.pool), s.id)
      .sadd(k.pods, s.pod)
      .exec()
      .then(checkMulti);
  }

  /**
   * Loads a session owned by `tenant` ('*' = any owner) and, in touch mode, moves its idle expiry
   * (optionally to a new TTL); reports whether its pod's heartbeat is alive.
   */
  async load(
    id: string,
    tenant: string,
    mode: LoadMode,
    opts: { newTtlSeconds?: number; withMigrations?: boolean; now?: number } = {},
  ): Promise<LoadResult> {
    const r = await this.redis.lbLoadSession(
      this.keys.base,
      id,
      tenant,
      String(opts.now ?? Date.now()),
      mode,
      opts.newTtlSeconds === undefined ? '' : String(opts.newTtlSeconds),
      this.keys.heartbeatPod,
      opts.withMigrations ? '1' : '0',
    );
    if (r[0] === 0) return { status: 'missing' };
    if (r[0] === 1) return { status: 'expired' };
    return {
      status: 'ok',
      session: fromHash(pairs(r[1] as string[])),
      podAlive: r[2] === 1,
      touchState: r[3] === 1,
      migrations: (r[4] as string[]).map((m) => JSON.parse(m) as Migration),
    };
  }

  /**
   * Removes a session (owner check; with `expiredBefore`, only when it expired by then: the
   * sweeper's atomic claim). Returns the removed record, or undefined when nothing was removed.
   */
  async remove(id: string, tenant: string, expiredBefore?: number): Promise<SessionRecord | undefined> {
    const fields = await this.redis.lbRemoveSession(
      this.keys.base,
      id,
      tenant,
      expiredBefore === undefined ? '' : String(expiredBefore),
    );
    return fields.length ? fromHash(pairs(fields)) : undefined;
  }

  /** Compare-and-set of the session's pod; 'moved', 'lost' (already elsewhere) or 'missing'. */
  async move(
    id: string,
    expectedPod: string,
    newPod: string,
    migration: Migration,
  ): Promise<'moved' | 'lost' | 'missing'> {
    const r = await this.redis.lbMoveSession(
      this.keys.base,
      id,
      expectedPod,
      newPod,
      JSON.stringify(migration),
    );
    return r === 1 ? 'moved' : r === 0 ? 'lost' : 'missing';
  }

  /** The tenant's live sessions (expired ones are left to the sweeper and not listed). */
  async listForTenant(tenant: string, now = Date.now()): Promise<SessionRecord[]> {
    const ids = await this.redis.smembers(this.keys.tenant(tenant));
    if (!ids.length) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.keys.session(id));
    const res = (await pipe.exec()) ?? [];
    return res
      .map(([, v]) => v as Record<string, string>)
      .filter((h) => h && h['tenant'] === tenant && Number(h['expiresAt']) > now)
      .map(fromHash)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Compare-and-set of the session's state; false when it was not `from` (or is gone). */
  async setState(id: string, from: SessionState, to: SessionState): Promise<boolean> {
    return (await this.redis.lbSetState(this.keys.base, id, from, to)) === 1;
  }

  /**
   * `pausing` → `paused`: the session leaves its pod (and the pod's and pool's session counts) and
   * expires at `expiresAt` unless resumed. False when it was not pausing on `pod`.
   */
  async pause(id: string, pod: string, expiresAt: number, now = Date.now()): Promise<boolean> {
    return (await this.redis.lbPauseSession(this.keys.base, id, pod, String(expiresAt), String(now))) === 1;
  }

  /**
   * `paused` → `active` on `pod` of `pool` with a new TTL (expiry now + ttl); records the move as a
   * migration (reason `resumed`). False when it was not paused.
   */
  async resume(
    id: string,
    pool: string,
    pod: string,
    ttlSeconds: number,
    migration: Migration,
    now = Date.now(),
  ): Promise<boolean> {
    return (
      (await this.redis.lbResumeSession(
        this.keys.base,
        id,
        pool,
        pod,
        String(ttlSeconds),
        String(now),
        JSON.stringify(migration),
      )) === 1
    );
  }

  /** Stores sandbox-plane tokens unless the session has them already; returns the stored ones. */
  async ensureTokens(
    id: string,
    tokens: { accessToken: string; trafficToken: string },
  ): Promise<{ accessToken: string; trafficToken: string } | undefined> {
    const r = await this.redis.lbEnsureTokens(this.keys.base, id, tokens.accessToken, tokens.trafficToken);
    return r.length === 2 ? { accessToken: r[0] as string, trafficToken: r[1] as string } : undefined;
  }

  /**
   * Appends to the capped execution history (and records `lastSnapshotAt` when given). Awaited
   * before the response: an acknowledged execution is in the history even if this replica dies.
   */
  async appendHistory(id: string, entry: HistoryEntry, lastSnapshotAt?: string): Promise<void> {
    const code =
      entry.code.length > HISTORY_CODE_MAX
        ? `${entry.code.slice(0, HISTORY_CODE_MAX)}\n…[truncated]`
        : entry.code;
    await this.redis.lbPushHistory(
      this.keys.base,
      id,
      JSON.stringify({ ...entry, code }),
      String(this.historyLimit),
      lastSnapshotAt ?? '',
    );
  }

  async history(id: string): Promise<HistoryEntry[]> {
    const items = await this.redis.lrange(this.keys.history(id), 0, -1);
    return items.map((i) => JSON.parse(i) as HistoryEntry);
  }

  /** Records the time of the latest snapshot (only if the session still exists). */
  async setLastSnapshot(id: string, at: string): Promise<void> {
    const key = this.keys.session(id);
    await this.redis.eval(
      "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'lastSnapshotAt', ARGV[1]) end return 1",
      1,
      key,
      at,
    );
  }

  /** Ids whose expiry passed (the sweeper removes each with {@link remove} + expiredBefore). */
  dueExpired(now: number, limit = 200): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.expiry, '-inf', now, 'LIMIT', 0, limit);
  }

  /** Pods that have (had) sessions assigned. */
  podsWithSessions(): Promise<string[]> {
    return this.redis.smembers(this.keys.pods);
  }

  podSessionIds(pod: string): Promise<string[]> {
    return this.redis.smembers(this.keys.podSessions(pod));
  }

  /** Forgets a pod that has no sessions left (atomic: only if its set is empty). */
  async forgetPodIfEmpty(pod: string): Promise<void> {
    await this.redis.eval(
      "if redis.call('SCARD', KEYS[2]) == 0 then redis.call('SREM', KEYS[1], ARGV[1]) end return 1",
      2,
      this.keys.pods,
      this.keys.podSessions(pod),
      pod,
    );
  }
}

function pairs(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

function checkMulti(res: [Error | null, unknown][] | null): void {
  const err = res?.find(([e]) => e)?.[0];
  if (err) throw err;
  if (!res) throw new Error('redis transaction aborted');
}

function toHash(s: SessionRecord): Record<string, string> {
  return {
    id: s.id,
    tenant: s.tenant,
    template: s.template,
    pool: s.pool,
    pod: s.pod,
    region: s.region,
    persist: s.persist ? '1' : '0',
    ttl: String(s.ttlSeconds),
    createdAt: String(s.createdAt),
    expiresAt: String(s.expiresAt),
    stateExpiresAt: String(s.expiresAt),
    env: JSON.stringify(s.env),
    metadata: JSON.stringify(s.metadata),
    lastSnapshotAt: s.lastSnapshotAt ?? '',
    state: s.state ?? SessionStates.active,
    fixed: s.fixedExpiry ? '1' : '0',
    ...(s.accessToken ? { accessToken: s.accessToken } : {}),
    ...(s.trafficToken ? { trafficToken: s.trafficToken } : {}),
  };
}

function fromHash(h: Record<string, string>): SessionRecord {
  return {
    id: h['id'] as string,
    tenant: h['tenant'] as string,
    template: h['template'] as string,
    pool: h['pool'] as string,
    pod: h['pod'] as string,
    region: h['region'] ?? '',
    persist: h['persist'] === '1',
    ttlSeconds: Number(h['ttl']),
    createdAt: Number(h['createdAt']),
    expiresAt: Number(h['expiresAt']),
    env: JSON.parse(h['env'] || '{}') as Record<string, string>,
    metadata: JSON.parse(h['metadata'] || '{}') as Record<string, string>,
    lastSnapshotAt: h['lastSnapshotAt'] || undefined,
    state: (h['state'] as SessionState | undefined) || SessionStates.active,
    fixedExpiry: h['fixed'] === '1',
    accessToken: h['accessToken'] || undefined,
    trafficToken: h['trafficToken'] || undefined,
    pausedAt: h['pausedAt'] ? Number(h['pausedAt']) : undefined,
  };
}
