import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type Redis from 'ioredis';
import { principalOf, type AuthedRequest } from '../auth/auth';
import type { LbConfig } from '../config/config';
import { LbKeys } from '../state/keys';
import { ApiError } from './api-error';

/** Routes outside the rate limit: probes and scrapes. Everything else (API, E2B, admin UI) counts. */
const EXEMPT = /^\/(health\/|metrics(\?|$)|ping(\?|$))/;

/**
 * Per-key rate limit (@fastify/rate-limit with its Redis store: every replica counts in the same
 * Redis keys `<prefix>:lb:rl:*`). The key is the caller (tenant or admin key, resolved by the
 * auth hook before this runs); callers without a valid key are counted per client IP. Every route
 * but /health/*, /metrics and /ping counts. Over the limit → 429 `rate_limited` with `Retry-After`
 * and `retryAfterSeconds`.
 */
export async function registerRateLimit(fastify: unknown, config: LbConfig, redis: Redis): Promise<void> {
  const f = fastify as FastifyInstance;
  await f.register(rateLimit, {
    global: true,
    max: config.RATE_LIMIT_MAX,
    timeWindow: config.RATE_LIMIT_WINDOW_MS,
    redis,
    nameSpace: new LbKeys(config.QUEUE_PREFIX).rateLimit,
    // Redis unreachable: do not add a second failure to the request's own.
    skipOnError: true,
    allowList: (req: FastifyRequest) => EXEMPT.test(req.url),
    keyGenerator: (req: FastifyRequest) => {
      const p = principalOf(req as AuthedRequest, config);
      return p ? `${p.role}:${p.name}` : `ip:${req.ip}`;
    },
    errorResponseBuilder: (_req, ctx) =>
      new ApiError(
        'rate_limited',
        `rate limit of ${ctx.max} requests per ${ctx.after} exceeded (RATE_LIMIT_MAX / RATE_LIMIT_WINDOW_MS)`,
        Math.max(1, Math.ceil(ctx.ttl / 1000)),
      ),
  });
}
