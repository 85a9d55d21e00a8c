import Redis from 'ioredis';
import { startRedis, uniquePrefix, type TestRedis } from './redis';

describe('startRedis', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis({ appendOnly: true });
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('serves a real redis on loopback and keeps AOF data across a crash', async () => {
    expect(redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: null });
    await client.connect();
    await client.set('k', 'v');
    expect(await client.get('k')).toBe('v');
    client.disconnect();
    await redis.kill();
    await redis.restart();
    const again = new Redis(redis.url);
    expect(await again.get('k')).toBe('v');
    again.disconnect();
  });

  it('gives unique prefixes', () => {
    expect(uniquePrefix()).not.toBe(uniquePrefix());
  });
});
