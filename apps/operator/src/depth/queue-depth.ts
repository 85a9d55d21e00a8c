import type Redis from 'ioredis';
import { podQueueName } from '@executor/queues';

/**
 * Jobs waiting on each pod queue: `wait` + `paused` (lists) + `prioritized` + `delayed` (sorted sets)
 * of BullMQ's keys `<prefix>:pod-<pod>:*` — four O(1) commands per pod, one pipeline for all pods
 * (what `Queue.getJobCounts('waiting', 'prioritized', 'delayed')` counts, without a Queue per pod).
 */
export async function podQueueDepths(
  redis: Redis,
  prefix: string,
  pods: readonly string[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (pods.length === 0) return out;
  const pipeline = redis.pipeline();
  for (const pod of pods) {
    const base = `${prefix}:${podQueueName(pod)}`;
    pipeline
      .llen(`${base}:wait`)
      .llen(`${base}:paused`)
      .zcard(`${base}:prioritized`)
      .zcard(`${base}:delayed`);
  }
  const results = (await pipeline.exec()) ?? [];
  pods.forEach((pod, i) => {
    let sum = 0;
    for (let j = 0; j < 4; j++) {
      const [err, n] = results[i * 4 + j] ?? [null, 0];
      if (err) throw err;
      sum += Number(n);
    }
    out.set(pod, sum);
  });
  return out;
}
