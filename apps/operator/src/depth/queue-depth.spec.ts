import { Queue } from 'bullmq';
import type Redis from 'ioredis';
import { createRedis, podQueueName } from '@executor/queues';
import { startRedis, uniquePrefix, type TestRedis } from '@executor/testing';
import { podQueueDepths } from './queue-depth';

describe('podQueueDepths (real Redis + BullMQ)', () => {
  let redis: TestRedis;
  let conn: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    conn = createRedis(redis.url);
  });
  afterAll(async () => {
    conn.disconnect();
    await redis.stop();
  });

  it('counts waiting + prioritized + delayed (+ paused) jobs per pod queue, as BullMQ does', async () => {
    const prefix = uniquePrefix('depth');
    const a = new Queue(podQueueName('pod-a'), { connection: conn, prefix });
    const b = new Queue(podQueueName('pod-b'), { connection: conn, prefix });
    await a.add('x', {});
    await a.add('x', {});
    await a.add('x', {}, { priority: 3 });
    await a.add('x', {}, { delay: 60_000 });
    await b.pause();
    await b.add('x', {});
    const depths = await podQueueDepths(conn, prefix, ['pod-a', 'pod-b', 'pod-c']);
    const counts = await a.getJobCounts('waiting', 'prioritized', 'delayed');
    expect(depths.get('pod-a')).toBe(
      (counts['waiting'] ?? 0) + (counts['prioritized'] ?? 0) + (counts['delayed'] ?? 0),
    );
    expect(depths.get('pod-a')).toBe(4);
    expect(depths.get('pod-b')).toBe(1);
    expect(depths.get('pod-c')).toBe(0);
    await a.close();
    await b.close();
  });

  it('returns nothing for no pods and rejects invalid pod names', async () => {
    expect((await podQueueDepths(conn, 'p', [])).size).toBe(0);
    await expect(podQueueDepths(conn, 'p', ['Bad_Pod'])).rejects.toThrow(/invalid pod name/);
  });
});
