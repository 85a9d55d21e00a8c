import { heartbeatKeys, sessionExpiryKey } from '@executor/queues';

/**
 * Redis keys of the load balancer (all under `<QUEUE_PREFIX>:lb:`). Standalone Redis (the Lua
 * scripts build keys from this prefix, as BullMQ's do without hash tags).
 *
 * - `s:<id>` hash: the session (tenant, template, pool, pod, region, persist, ttl, createdAt,
 *   expiresAt, stateExpiresAt, env, metadata, lastSnapshotAt)
 * - `m:<id>` list: migrations (JSON `{from,to,at,reason}`), oldest first
 * - `h:<id>` list: execution history (JSON), capped at HISTORY_LIMIT
 * - `t:<tenant>` set: the tenant's session ids
 * - `pod:<pod>` set / `pool:<pool>` set: session ids assigned to a pod / a pool
 * - `pods` set: pods that have (had) sessions assigned (the orphan sweeper walks it)
 * - `expiry` zset: session id scored by expiresAt (ms)
 * - `pools` set + `p:<name>` hash: the pool registry
 * - `lock:mig:<id>`: migration lock (SET NX PX)
 * - `gone:<pod>`: the pod was reported deleted (pod.deleted); expires after a minute
 * - `rl:<role>:<name>` / `rl:ip:<ip>`: rate-limit counters (@fastify/rate-limit's Redis store)
 * - `q:s:<tenant>` zset: session creations in progress (reservation id → time), counted with
 *   `t:<tenant>` against TENANT_MAX_SESSIONS
 * - `q:e:<tenant>` zset: executions in flight (execution id → deadline), TENANT_MAX_RUNNING_EXECUTIONS
 * - `idem:<role>:<name>:<sha256(key)>`: an Idempotency-Key's answer (or `pending`), 24 h
 */
export class LbKeys {
  readonly base: string;
  constructor(readonly prefix: string) {
    this.base = `${prefix}:lb:`;
  }
  session = (id: string): string => `${this.base}s:${id}`;
  migrations = (id: string): string => `${this.base}m:${id}`;
  history = (id: string): string => `${this.base}h:${id}`;
  tenant = (tenant: string): string => `${this.base}t:${tenant}`;
  podSessions = (pod: string): string => `${this.base}pod:${pod}`;
  poolSessions = (pool: string): string => `${this.base}pool:${pool}`;
  get pods(): string {
    return `${this.base}pods`;
  }
  /** The session lease ZSET (shared contract with the operator, libs/queues). */
  get expiry(): string {
    return sessionExpiryKey(this.prefix);
  }
  get pools(): string {
    return `${this.base}pools`;
  }
  pool = (name: string): string => `${this.base}p:${name}`;
  migrationLock = (id: string): string => `${this.base}lock:mig:${id}`;
  podGone = (pod: string): string => `${this.base}gone:${pod}`;
  get rateLimit(): string {
    return `${this.base}rl:`;
  }
  sessionReservations = (tenant: string): string => `${this.base}q:s:${tenant}`;
  runningExecutions = (tenant: string): string => `${this.base}q:e:${tenant}`;
  idempotency = (principal: string, keyHash: string): string => `${this.base}idem:${principal}:${keyHash}`;
  /** Heartbeat key prefix of libs/queues (`<prefix>:hb:pod:`). */
  get heartbeatPod(): string {
    return heartbeatKeys.pod('', this.prefix);
  }
}
