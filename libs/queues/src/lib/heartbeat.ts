import type Redis from 'ioredis';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { DEFAULT_QUEUE_PREFIX } from './connection';

/** How often an executor writes its heartbeat (ms). */
export const HEARTBEAT_INTERVAL_MS = 2000;
/** A pod whose heartbeat is older than this is dead (ms): three missed beats. */
export const HEARTBEAT_TTL_MS = 6000;

/** What an executor pod publishes about itself; routers read it to see live pods. */
export const PodHeartbeat = Type.Object({
  pool: Type.String(),
  pod: Type.String(),
  template: Type.String(),
  region: Type.Optional(Type.String()),
  /** Max sessions the pod accepts. */
  capacity: Type.Integer({ minimum: 0 }),
  /** Sessions held now. */
  sessions: Type.Integer({ minimum: 0 }),
  /** Executions running now. */
  running: Type.Integer({ minimum: 0 }),
  /** 1-minute load average divided by CPUs (0..n). */
  load: Type.Number(),
  /** Executor version. */
  version: Type.String(),
  /** The pod's work queue. */
  queue: Type.String(),
  /** False while draining (SIGTERM received): no new sessions. */
  accepting: Type.Boolean(),
  /**
   * False while the pod's sandbox or template does not work (its boot smoke test has not passed):
   * no new sessions, `reason` says why. Absent (executors before this field) counts as healthy.
   */
  healthy: Type.Optional(Type.Boolean()),
  /** Why the pod is not healthy (with `healthy: false`). */
  reason: Type.Optional(Type.String({ maxLength: 2000 })),
  startedAt: Type.String(),
  at: Type.String(),
});
export type PodHeartbeat = Static<typeof PodHeartbeat>;

/** True when the pod takes new sessions: accepting (not draining) and healthy. */
export function podTakesSessions(hb: Pick<PodHeartbeat, 'accepting' | 'healthy'>): boolean {
  return hb.accepting && hb.healthy !== false;
}

export const heartbeatKeys = {
  pod: (pod: string, prefix = DEFAULT_QUEUE_PREFIX): string => `${prefix}:hb:pod:${pod}`,
  poolPods: (pool: string, prefix = DEFAULT_QUEUE_PREFIX): string => `${prefix}:hb:pool:${pool}`,
  pools: (prefix = DEFAULT_QUEUE_PREFIX): string => `${prefix}:hb:pools`,
};

/** Writes a heartbeat that expires after `ttlMs` unless renewed. */
export async function writeHeartbeat(
  redis: Redis,
  hb: PodHeartbeat,
  opts: { prefix?: string; ttlMs?: number } = {},
): Promise<void> {
  const prefix = opts.prefix ?? DEFAULT_QUEUE_PREFIX;
  await redis
    .multi()
    .set(heartbeatKeys.pod(hb.pod, prefix), JSON.stringify(hb), 'PX', opts.ttlMs ?? HEARTBEAT_TTL_MS)
    .sadd(heartbeatKeys.poolPods(hb.pool, prefix), hb.pod)
    .sadd(heartbeatKeys.pools(prefix), hb.pool)
    .exec();
}

/** Removes a pod's heartbeat at once (graceful shutdown: routers stop sending it work). */
export async function removeHeartbeat(
  redis: Redis,
  pool: string,
  pod: string,
  prefix = DEFAULT_QUEUE_PREFIX,
): Promise<void> {
  await redis
    .multi()
    .del(heartbeatKeys.pod(pod, prefix))
    .srem(heartbeatKeys.poolPods(pool, prefix), pod)
    .exec();
}

/** The live pods of a pool (stale members of the pool's set are pruned). */
export async function livePods(
  redis: Redis,
  pool: string,
  prefix = DEFAULT_QUEUE_PREFIX,
): Promise<PodHeartbeat[]> {
  const members = await redis.smembers(heartbeatKeys.poolPods(pool, prefix));
  if (members.length === 0) return [];
  const values = await redis.mget(members.map((p) => heartbeatKeys.pod(p, prefix)));
  const live: PodHeartbeat[] = [];
  const stale: string[] = [];
  values.forEach((v, i) => {
    const hb = v ? parseHeartbeat(v) : undefined;
    if (hb) live.push(hb);
    else stale.push(members[i] as string);
  });
  if (stale.length) await redis.srem(heartbeatKeys.poolPods(pool, prefix), ...stale);
  return live;
}

/** One pod's heartbeat, or undefined when it lapsed. */
export async function podHeartbeat(
  redis: Redis,
  pod: string,
  prefix = DEFAULT_QUEUE_PREFIX,
): Promise<PodHeartbeat | undefined> {
  const v = await redis.get(heartbeatKeys.pod(pod, prefix));
  return v ? parseHeartbeat(v) : undefined;
}

/** Every pool that has ever had a live pod. */
export async function heartbeatPools(redis: Redis, prefix = DEFAULT_QUEUE_PREFIX): Promise<string[]> {
  return redis.smembers(heartbeatKeys.pools(prefix));
}

function parseHeartbeat(raw: string): PodHeartbeat | undefined {
  try {
    const v: unknown = JSON.parse(raw);
    return Value.Check(PodHeartbeat, v) ? v : undefined;
  } catch {
    return undefined; // a corrupt heartbeat counts as no heartbeat
  }
}
