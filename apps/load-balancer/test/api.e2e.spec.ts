import request from 'supertest';
import type Redis from 'ioredis';
import { createRedis } from '@executor/queues';
import { startRedis, uniquePrefix, type TestRedis } from '@executor/testing';
import { AUTH_A, AUTH_B, startLb, testConfig } from './support/app';
import { startExecutor, type Proc } from './support/harness';

describe('load-balancer API (real app, real Redis, executor processes)', () => {
  let redis: TestRedis;
  let client: Redis;
  let prefix: string;
  let lb: Awaited<ReturnType<typeof startLb>>;
  const executors: Proc[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    client = createRedis(redis.url);
    prefix = uniquePrefix('lb');
    executors.push(await startExecutor(client, { redisUrl: redis.url, prefix, pool: 'py-eu', pod: 'py-eu-0', region: 'eu' }));
    lb = await startLb(testConfig(redis.url, prefix));
    await request(lb.url).post('/v1/pools').set(AUTH_A).send({ name: 'py-eu', template: 'python', region: 'eu' }).expect(201);
  }, 60_000);

  afterAll(async () => {
    await lb?.app.close();
    await Promise.all(executors.map((e) => e.stop()));
    client?.disconnect();
    await redis?.stop();
  });

  it('creates a session and runs code in it', async () => {
    const s = await request(lb.url).post('/v1/sessions').set(AUTH_A).send({ template: 'python' }).expect(201);
    expect(s.body).toMatchObject({ template: 'python', pool: 'py-eu', pod: 'py-eu-0', region: 'eu', persist: true, status: 'active' });
    const ex = await request(lb.url).post(`/v1/sessions/${s.body.id}/executions`).set(AUTH_A).send({ code: 'x = 41\nprint(x)' }).expect(200);
    expect(ex.body).toMatchObject({ exitCode: 0, stdout: '41\n', timedOut: false, truncated: false });
    await request(lb.url).get(`/v1/sessions/${s.body.id}`).set(AUTH_B).expect(404);
  });
});
