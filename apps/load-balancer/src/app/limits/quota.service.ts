import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { REDIS } from '../core/tokens';
import { ApiError } from '../http/api-error';
import { LbKeys } from '../state/keys';

/**
 * Reserve a session slot: live sessions (`t:<tenant>`) + creations in progress (`q:s:<tenant>`,
 * stale reservations of a dead replica dropped after 2 min) must stay below the quota.
 * KEYS: tenant set, reservations, expiry zset. ARGV: now, max, reservation id, stale ms.
 * → {1} reserved, or {0, earliest expiry of the tenant's sessions (ms, 0 = unknown)}.
 */
const RESERVE_SESSION = `
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[4]))
local n = redis.call('SCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])
if n >= tonumber(ARGV[2]) then
  local earliest = 0
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    local s = tonumber(redis.call('ZSCORE', KEYS[3], id) or '0')
    if s > 0 and (earliest == 0 or s < earliest) then earliest = s end
  end
  return {0, earliest}
end
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {1, 0}
`;

/**
 * Count an execution in flight: executions of a dead replica leave by their deadline.
 * KEYS: running zset. ARGV: now, max, execution id, deadline. → 1 admitted, 0 over the quota.
 */
const ACQUIRE_EXECUTION = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('PEXPIREAT', KEYS[1], redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
return 1
`;

const STALE_RESERVATION_MS = 120_000;

interface QuotaRedis extends Redis {
  lbReserveSession(...args: string[]): Promise<[number, number]>;
  lbAcquireExecution(...args: string[]): Promise<number>;
}

/**
 * Per-tenant quotas shared by every replica, counted atomically in Redis (one Lua call each):
 * live sessions (TENANT_MAX_SESSIONS) and executions in flight (TENANT_MAX_RUNNING_EXECUTIONS).
 * Over a quota → 429 `rate_limited` with `retryAfterSeconds`.
 */
@Injectable()
export class QuotaService {
  private readonly keys: LbKeys;
  private readonly redis: QuotaRedis;

  constructor(
    @Inject(REDIS) redis: Redis,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
  ) {
    this.keys = new LbKeys(config.QUEUE_PREFIX);
    redis.defineCommand('lbReserveSession', { numberOfKeys: 3, lua: RESERVE_SESSION });
    redis.defineCommand('lbAcquireExecution', { numberOfKeys: 1, lua: ACQUIRE_EXECUTION });
    this.redis = redis as QuotaRedis;
  }

  /** Reserves one session slot for `tenant`; returns the release (call once the session is recorded or failed). */
  async reserveSession(tenant: string): Promise<() => Promise<void>> {
    const id = randomUUID();
    const now = Date.now();
    const max = this.config.TENANT_MAX_SESSIONS;
    const [ok, earliest] = await this.redis.lbReserveSession(
      this.keys.tenant(tenant),
      this.keys.sessionReservations(tenant),
      this.keys.expiry,
      String(now),
      String(max),
      id,
      String(STALE_RESERVATION_MS),
    );
    if (ok !== 1) {
      const wait = earliest > now ? Math.ceil((earliest - now) / 1000) : 1;
      throw new ApiError(
        'rate_limited',
        `tenant "${tenant}" has ${max} sessions (TENANT_MAX_SESSIONS): delete one or wait for one to expire`,
        Math.max(1, wait),
      );
    }
    return async () => {
      await this.redis.zrem(this.keys.sessionReservations(tenant), id);
    };
  }

  /** Counts an execution in flight until the returned release is called (or its deadline passes). */
  async acquireExecution(
    tenant: string,
    executionId: string,
    timeoutMs: number,
  ): Promise<() => Promise<void>> {
    const now = Date.now();
    const max = this.config.TENANT_MAX_RUNNING_EXECUTIONS;
    const key = this.keys.runningExecutions(tenant);
    const deadline = now + timeoutMs + this.config.JOB_TIMEOUT_GRACE_MS + 5000;
    const ok = await this.redis.lbAcquireExecution(
      key,
      String(now),
      String(max),
      executionId,
      String(deadline),
    );
    if (ok !== 1) {
      throw new ApiError(
        'rate_limited',
        `tenant "${tenant}" has ${max} executions running (TENANT_MAX_RUNNING_EXECUTIONS): retry when one finishes`,
        1,
      );
    }
    return async () => {
      await this.redis.zrem(key, executionId);
    };
  }
}
