import type Redis from 'ioredis';
import { livePods, type PodHeartbeat } from '@executor/queues';
import { podQueueDepths } from './queue-depth';

const POD_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

export interface PoolDepth {
  /** Jobs waiting over every pod queue of the pool: the `executor_pool_queue_depth` value. */
  total: number;
  perPod: Map<string, number>;
  /** The pool's live heartbeats (read on the way). */
  beats: PodHeartbeat[];
}

/**
 * The queue depth of one pool, the one definition every reader uses (the leader's monitor for its
 * gauges and status, the External metrics API on any replica): pods = the pool's pods known to
 * Kubernetes ∪ its live heartbeats (a pod that is gone from Kubernetes but still heartbeats still has
 * a queue), depth = the sum of {@link podQueueDepths} over them.
 */
export async function readPoolDepth(
  redis: Redis,
  prefix: string,
  pool: string,
  kubePods: readonly string[],
): Promise<PoolDepth> {
  const beats = await livePods(redis, pool, prefix);
  const names = [...new Set([...kubePods, ...beats.map((b) => b.pod)])].filter((p) => POD_NAME.test(p));
  const perPod = await podQueueDepths(redis, prefix, names);
  let total = 0;
  for (const d of perPod.values()) total += d;
  return { total, perPod, beats };
}
