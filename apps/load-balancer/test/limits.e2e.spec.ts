import request from 'supertest';
import type Redis from 'ioredis';
import { AclUsers } from '@executor/queues';
import { uniquePrefix } from '@executor/testing';
import { AUTH_A, AUTH_ADMIN, AUTH_B, startLb, testConfig } from './support/app';
import { expectApiError } from './support/expect';
import { startExecutor, startPersistence, waitFor, type Proc } from './support/harness';
import { startAclRedis, type AclRedis } from './support/redis-acl';

const MiB = 1024 * 1024;

/**
 * Abuse limits on the real app (two replicas sharing one Redis, a real executor): per-key rate
 * limits, per-tenant quotas, Idempotency-Key, JSON body limits.
 */
describe('limits: rate limits, quotas, idempotency, body size (two replicas, real executor)', () => {
  let acl: AclRedis;
  let client: Redis;
  let prefix: string;
  let persistence: Proc;
  let executor: Proc;
  let one: Awaited<ReturnType<typeof startLb>>;
  let two: Awaited<ReturnType<typeof startLb>>;
  let limited: Awaited<ReturnType<typeof startLb>>;
  let limited2: Awaited<ReturnType<typeof startLb>>;

  beforeAll(async () => {
    prefix = uniquePrefix('lim');
    acl = await startAclRedis(prefix);
    client = acl.admin;
    persistence = await startPersistence(acl);
    executor = await startExecutor(client, { acl, pool: 'py', pod: 'py-0' });
    const cfg = (extra: Record<string, string>) =>
      testConfig(acl.url(AclUsers.loadBalancer), prefix, {
        TENANT_MAX_SESSIONS: '3',
        TENANT_MAX_RUNNING_EXECUTIONS: '1',
        ...extra,
      });
    one = await startLb(cfg({ REPLICA_ID: 'lb-1' }));
    two = await startLb(cfg({ REPLICA_ID: 'lb-2' }));
    // Two more replicas with a tiny rate limit: they count in the same Redis keys.
    const tiny = (id: string) =>
      startLb(
        testConfig(acl.url(AclUsers.loadBalancer), prefix, {
          REPLICA_ID: id,
          RATE_LIMIT_MAX: '5',
          RATE_LIMIT_WINDOW_MS: '60000',
        }),
      );
    limited = await tiny('lb-3');
    limited2 = await tiny('lb-4');
    await request(one.url)
      .post('/v1/pools')
      .set(AUTH_ADMIN)
      .send({ name: 'py', template: 'python' })
      .expect(201);
  }, 240_000);

  afterAll(async () => {
    await one?.app.close();
    await two?.app.close();
    await limited?.app.close();
    await limited2?.app.close();
    await executor?.stop();
    await persistence?.stop();
    await acl?.stop();
  });

  const create = (url: string, auth = AUTH_A, headers: Record<string, string> = {}) =>
    request(url).post('/v1/sessions').set(auth).set(headers).send({ template: 'python', ttlSeconds: 60 });

  describe('rate limit (@fastify/rate-limit, Redis store)', () => {
    it('counts per key across replicas: another key and health checks are not affected; 429 has Retry-After', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++)
        statuses.push(
          (
            await request(i % 2 ? limited2.url : limited.url)
              .get('/v1/sessions')
              .set(AUTH_B)
          ).status,
        );
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429]);
      const res = await request(limited2.url).get('/v1/pools').set(AUTH_B);
      expectApiError(res, 429, 'rate_limited', /rate limit of 5 requests/);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.body.error.retryAfterSeconds).toBe(Number(res.headers['retry-after']));
      // Tenant A has its own budget; health and metrics are never limited.
      await request(limited.url).get('/v1/sessions').set(AUTH_A).expect(200);
      for (let i = 0; i < 8; i++) await request(limited.url).get('/health/live').expect(200);
      // The counter lives in Redis (shared by replicas configured alike).
      expect(await client.keys(`${prefix}:lb:rl:*`)).toEqual(
        expect.arrayContaining([`${prefix}:lb:rl:tenant:tenant-b`]),
      );
    });

    it('callers without a valid key are limited per client IP (guessing keys is limited too)', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++)
        statuses.push(
          (
            await request(limited.url)
              .get('/v1/sessions')
              .set({ authorization: `Bearer guess-${i}` })
          ).status,
        );
      expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(statuses.slice(5)).toEqual([429, 429]);
    });
  });

  describe('quotas (per tenant, every replica, atomic in Redis)', () => {
    it('sessions per tenant: concurrent creates on two replicas never exceed the quota; 429 with Retry-After', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => create(i % 2 ? one.url : two.url, AUTH_B)),
      );
      const codes = results.map((r) => r.status).sort();
      expect(codes.filter((c) => c === 201)).toHaveLength(3);
      expect(codes.filter((c) => c === 429)).toHaveLength(5);
      const refused = results.find((r) => r.status === 429) as request.Response;
      expectApiError(refused, 429, 'rate_limited', /TENANT_MAX_SESSIONS/);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(refused.body.error.retryAfterSeconds).toBeLessThanOrEqual(61);
      // Another tenant is not affected; deleting one frees a slot.
      const a = await create(one.url).expect(201);
      const mine = (await request(two.url).get('/v1/sessions').set(AUTH_B).expect(200)).body.items as {
        id: string;
      }[];
      expect(mine).toHaveLength(3);
      await request(two.url).delete(`/v1/sessions/${mine[0]?.id}`).set(AUTH_B).expect(204);
      await create(one.url, AUTH_B).expect(201);
      await request(one.url).delete(`/v1/sessions/${a.body.id}`).set(AUTH_A).expect(204);
    });

    it('executions in flight per tenant: a second one while the first runs → 429, then fine', async () => {
      const s = (await create(one.url).expect(201)).body.id as string;
      const s2 = (await create(two.url).expect(201)).body.id as string;
      const slow = request(one.url)
        .post(`/v1/sessions/${s}/executions`)
        .set(AUTH_A)
        .send({ code: 'import time\ntime.sleep(2)\nprint("slow")' })
        .then((r) => r);
      await waitFor(
        async () => (await client.zcard(`${prefix}:lb:q:e:tenant-a`)) === 1,
        10_000,
        () => 'the slow execution to be counted',
      );
      const refused = await request(two.url)
        .post(`/v1/sessions/${s2}/executions`)
        .set(AUTH_A)
        .send({ code: 'print(1)' });
      expectApiError(refused, 429, 'rate_limited', /TENANT_MAX_RUNNING_EXECUTIONS/);
      expect(refused.headers['retry-after']).toBe('1');
      // Tenant B runs meanwhile.
      const b = (await create(one.url, AUTH_B)).body.id as string | undefined;
      if (b)
        await request(one.url)
          .post(`/v1/sessions/${b}/executions`)
          .set(AUTH_B)
          .send({ code: 'print(2)' })
          .expect(200);
      expect((await slow).body.stdout).toBe('slow\n');
      await request(two.url)
        .post(`/v1/sessions/${s2}/executions`)
        .set(AUTH_A)
        .send({ code: 'print(1)' })
        .expect(200);
      expect(await client.zcard(`${prefix}:lb:q:e:tenant-a`)).toBe(0);
      for (const id of [s, s2]) await request(one.url).delete(`/v1/sessions/${id}`).set(AUTH_A).expect(204);
    });
  });

  describe('Idempotency-Key (tenant-scoped, 24 h)', () => {
    let sid: string;
    beforeAll(async () => {
      sid = (await create(one.url).expect(201)).body.id;
    });
    afterAll(async () => {
      await request(one.url).delete(`/v1/sessions/${sid}`).set(AUTH_A);
    });
    // Each run appends one line to a file in the session: the side effect is counted in the kernel.
    const countingCode =
      'open("runs.txt", "a").write("x\\n")\nprint(len(open("runs.txt").read().splitlines()))';
    const runs = async (): Promise<number> => {
      const r = await request(one.url)
        .post(`/v1/sessions/${sid}/executions`)
        .set(AUTH_A)
        .send({
          code: 'import os\nprint(len(open("runs.txt").read().splitlines()) if os.path.exists("runs.txt") else 0)',
        })
        .expect(200);
      return Number(r.body.stdout);
    };

    it('a retried execution never runs twice: concurrent duplicates on two replicas wait for the first and get its answer', async () => {
      const key = { 'idempotency-key': 'exec-retry-1' };
      const send = (url: string) =>
        request(url).post(`/v1/sessions/${sid}/executions`).set(AUTH_A).set(key).send({ code: countingCode });
      const [first, ...dups] = await Promise.all([
        send(one.url),
        send(two.url),
        send(one.url),
        send(two.url),
      ]);
      expect(first?.status).toBe(200);
      for (const d of dups) {
        expect(d.status).toBe(200);
        expect(d.body).toEqual(first?.body);
      }
      expect(
        dups.concat(first as request.Response).filter((r) => r.headers['idempotent-replayed'] === 'true'),
      ).toHaveLength(3);
      // Later retries too (another replica): same answer, nothing runs.
      const later = await send(two.url).expect(200);
      expect(later.body).toEqual(first?.body);
      expect(later.headers['idempotent-replayed']).toBe('true');
      expect(await runs()).toBe(1);
      // Without the key every request runs.
      await request(one.url)
        .post(`/v1/sessions/${sid}/executions`)
        .set(AUTH_A)
        .send({ code: countingCode })
        .expect(200);
      expect(await runs()).toBe(2);
    });

    it('the same key with another body → 409; the same key of another tenant is another key', async () => {
      const key = { 'idempotency-key': 'exec-retry-2' };
      await request(one.url)
        .post(`/v1/sessions/${sid}/executions`)
        .set(AUTH_A)
        .set(key)
        .send({ code: 'print(1)' })
        .expect(200);
      expectApiError(
        await request(two.url)
          .post(`/v1/sessions/${sid}/executions`)
          .set(AUTH_A)
          .set(key)
          .send({ code: 'print(2)' }),
        409,
        'conflict',
        /Idempotency-Key/,
      );
      // Tenant B's request with the same key is its own (404: not its session), not A's replay.
      expectApiError(
        await request(one.url)
          .post(`/v1/sessions/${sid}/executions`)
          .set(AUTH_B)
          .set(key)
          .send({ code: 'print(1)' }),
        404,
        'not_found',
      );
    });

    it('a session create with a key makes one session, whatever the retries', async () => {
      const before = (await request(one.url).get('/v1/sessions').set(AUTH_A).expect(200)).body.items.length;
      const key = { 'idempotency-key': 'create-1' };
      const [x, y] = await Promise.all([create(one.url, AUTH_A, key), create(two.url, AUTH_A, key)]);
      expect(x.status).toBe(201);
      expect(y.status).toBe(201);
      expect(y.body.id).toBe(x.body.id);
      const after = (await request(one.url).get('/v1/sessions').set(AUTH_A).expect(200)).body.items.length;
      expect(after).toBe(before + 1);
      await request(one.url).delete(`/v1/sessions/${x.body.id}`).set(AUTH_A).expect(204);
    });

    it('answers that mean "not processed" (429) are not kept: the retry runs', async () => {
      const key = { 'idempotency-key': 'quota-1' };
      // Fill tenant A's session quota (3) with the session of this block plus two more.
      const extra = [
        (await create(one.url).expect(201)).body.id,
        (await create(one.url).expect(201)).body.id,
      ];
      expectApiError(await create(two.url, AUTH_A, key), 429, 'rate_limited');
      await request(one.url).delete(`/v1/sessions/${extra[0]}`).set(AUTH_A).expect(204);
      const retried = await create(two.url, AUTH_A, key).expect(201);
      expect(retried.headers['idempotent-replayed']).toBeUndefined();
      for (const id of [extra[1], retried.body.id])
        await request(one.url).delete(`/v1/sessions/${id}`).set(AUTH_A);
    });

    it('a malformed key is a 400', async () => {
      expectApiError(
        await create(one.url, AUTH_A, { 'idempotency-key': 'x'.repeat(300) }),
        400,
        'invalid_argument',
        /Idempotency-Key/,
      );
    });
  });

  describe('JSON bodies ≤ MAX_BODY_BYTES (2 MiB)', () => {
    it('refuses a larger body by its Content-Length before reading it, and a chunked one once past the limit', async () => {
      const big = `{"template":"${'p'.repeat(2 * MiB)}"}`;
      expectApiError(
        await request(one.url)
          .post('/v1/sessions')
          .set(AUTH_A)
          .set('content-type', 'application/json')
          .send(big),
        413,
        'payload_too_large',
      );
      // No Content-Length (chunked): cut once the limit is crossed.
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const http = require('node:http') as typeof import('node:http');
        const u = new URL(`${one.url}/v1/sessions`);
        const req = http.request(
          {
            host: u.hostname,
            port: u.port,
            path: u.pathname,
            method: 'POST',
            headers: { ...AUTH_A, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
          },
          (r) => {
            let body = '';
            r.on('data', (d: Buffer) => (body += d.toString()));
            r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        const chunk = 'p'.repeat(256 * 1024);
        req.write('{"template":"');
        for (let i = 0; i < 12; i++) req.write(chunk);
        req.end('"}');
      });
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body).error.code).toBe('payload_too_large');
      // Just under the limit is parsed (and then validated).
      expectApiError(
        await request(one.url)
          .post('/v1/sessions')
          .set(AUTH_A)
          .set('content-type', 'application/json')
          .send(`{"template":"${'p'.repeat(2 * MiB - 100)}"}`),
        400,
        'invalid_argument',
        /template/,
      );
    });
  });
});
