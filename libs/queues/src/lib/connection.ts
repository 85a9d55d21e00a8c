import type { ConnectionOptions } from 'bullmq';
import Redis, { type RedisOptions } from 'ioredis';

/** Default BullMQ key prefix of every platform queue (`<prefix>:<queue>:…`). */
export const DEFAULT_QUEUE_PREFIX = 'executor';

/** Parses `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS) into ioredis options. */
export function redisOptionsFromUrl(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`REDIS_URL is not a valid URL: "${url}" (expected redis://host:port[/db])`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new Error(`REDIS_URL must start with redis:// or rediss:// (got "${u.protocol}")`);
  }
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new Error(`REDIS_URL has an invalid database index "${u.pathname}"`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db,
    tls: u.protocol === 'rediss:' ? {} : undefined,
  };
}

/**
 * BullMQ connection options from one REDIS_URL. `maxRetriesPerRequest: null` is what BullMQ
 * workers require (blocking commands must not be retried away); reconnects back off up to 2 s.
 */
export function bullConnection(url: string): ConnectionOptions {
  return {
    ...redisOptionsFromUrl(url),
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times: number) => Math.min(50 * times, 2000),
  } as ConnectionOptions;
}

/** A plain ioredis client for the platform's own keys (heartbeats, transfers, registry…). */
export function createRedis(url: string, extra: RedisOptions = {}): Redis {
  return new Redis({
    ...redisOptionsFromUrl(url),
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(50 * times, 2000),
    ...extra,
  });
}

/**
 * Job retention: keep the last N (never `removeOnComplete: true`, which breaks
 * `waitUntilFinished` for a fraction of waits) and failed jobs for a day for the admin UI.
 */
export const DEFAULT_JOB_OPTIONS = {
  removeOnComplete: { count: 1000, age: 3600 },
  removeOnFail: { count: 5000, age: 24 * 3600 },
  attempts: 1,
} as const;
