import type Redis from 'ioredis';
import { DEFAULT_QUEUE_PREFIX } from './connection';

/**
 * The authoritative idle expiry of every live session: a ZSET (member = session id, score =
 * expiresAt in epoch ms) written by the load balancer on every use. Other services (the
 * operator's ExecutorSession TTL) read it instead of trusting an expiry they saw earlier.
 */
export function sessionExpiryKey(prefix = DEFAULT_QUEUE_PREFIX): string {
  return `${prefix}:lb:expiry`;
}

/** The session's current expiry (epoch ms), or undefined when it is gone (expired or deleted). */
export async function readSessionExpiry(
  redis: Redis,
  sessionId: string,
  prefix = DEFAULT_QUEUE_PREFIX,
): Promise<number | undefined> {
  const score = await redis.zscore(sessionExpiryKey(prefix), sessionId);
  return score === null ? undefined : Number(score);
}
