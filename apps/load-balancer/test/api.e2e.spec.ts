import { randomBytes } from 'node:crypto';
import request from 'supertest';
import type Redis from 'ioredis';
import { Queue } from 'bullmq';
import { AclUsers, QueueNames, bullConnection } from '@executor/queues';
import { uniquePrefix, buildWheelDir } from '@executor/testing';
import { ADMIN_KEY, AUTH_A, AUTH_ADMIN, AUTH_B, KEY_A, startLb, testConfig } from './support/app';
import { expectApiError } from './support/expect';
import { startExecutor, startPersistence, waitFor, type Proc } from './support/harness';
import { startAclRedis, type AclRedis } from './support/redis-acl';

const MiB = 1024 * 1024;

describe('load-balancer API (real app, real Redis, executor processes)', () => {
  let acl: AclRedis;
  let client: Redis;
  let prefix: string;
  let persistence: Proc | undefined;
  let lb: Awaited<ReturnType<typeof startLb>>;
  let events: Queue;
  const executors: Proc[] = [];
  const api = () => request(lb.url);

  const createSession = async (body: Record<string, unknown> = {}, auth = AUTH_A) =>
    (
      await api()
        .post('/v1/sessions')
        .set(auth)
        .send({ template: 'python', ...body })
        .expect(201)
    ).body as { id: string; pod: string; expiresAt: string };
  const eventsOf = async (sessionId: string): Promise<string[]> =>
    (await events.getJobs(['waiting', 'completed', 'failed', 'active', 'delayed']))
      .filter((j) => j.data.sessionId === sessionId)
      .map((j) => j.name);
  const lbKeys = async (): Promise<string[]> => (await client.keys(`${prefix}:lb:*`)).sort();

  beforeAll(async () => {
    prefix = uniquePrefix('lb');
    acl = await startAclRedis(prefix);
    client = acl.admin;
    persistence = await startPersistence(acl);
    // Offline package installs for the real executor: a local wheel, no index.
    const wheels = buildWheelDir('lbtestpkg==1.2.3');
    for (const pod of ['py-eu-0', 'py-eu-1']) {
      const env = { PIP_FIND_LINKS: wheels, PIP_NO_INDEX: 'true' };
      executors.push(await startExecutor(client, { acl, pool: 'py-eu', pod, region: 'eu', env }));
    }
    lb = await startLb(
      testConfig(acl.url(AclUsers.loadBalancer), prefix, {
        MAX_FILE_BYTES: String(1 * MiB),
        SESSION_SWEEP_INTERVAL_MS: '200',
      }),
    );
    await api()
      .post('/v1/pools')
      .set(AUTH_ADMIN)
      .send({ name: 'py-eu', template: 'python', region: 'eu' })
      .expect(201);
    events = new Queue(QueueNames.sessionEvents, { connection: bullConnection(acl.redis.url), prefix });
  }, 240_000);

  afterAll(async () => {
    await lb?.app.close();
    await events?.close();
    await Promise.all(executors.map((e) => e.stop()));
    await persistence?.stop();
    await acl?.stop();
  });

  describe('operations', () => {
    it('serves /health/live, /health/ready, /metrics and /ping without a key', async () => {
      await api().get('/health/live').expect(200);
      expect((await api().get('/health/ready').expect(200)).body).toMatchObject({
        status: 'ok',
        info: { redis: { status: 'up' } },
      });
      await api().get('/ping').expect(200, { pong: true });
      const m = await api().get('/metrics').expect(200);
      expect(m.headers['content-type']).toMatch(/text\/plain/);
      expect(m.text).toContain('lb_http_requests_total{method="GET",route="/ping",status="200"}');
      expect(m.text).toMatch(/lb_pool_sessions\{pool="py-eu"\} \d+/);
      expect(m.text).toMatch(/lb_pool_circuit_state\{pool="py-eu"\} 0/);
      expect(m.text).toContain('lb_http_request_duration_seconds_bucket');
    });
  });

  describe('pools', () => {
    it('lists pools with live stats and shows per-pod detail', async () => {
      const list = await api().get('/v1/pools').set(AUTH_A).expect(200);
      expect(list.body.items).toEqual([
        expect.objectContaining({
          name: 'py-eu',
          template: 'python',
          region: 'eu',
          weight: 1,
          healthy: true,
          circuit: 'closed',
          pods: 2,
          sessions: expect.any(Number),
          connections: expect.any(Number),
          queueDepth: 0,
        }),
      ]);
      const one = await api().get('/v1/pools/py-eu').set(AUTH_A).expect(200);
      expect(one.body.podDetails.map((p: { name: string }) => p.name)).toEqual(['py-eu-0', 'py-eu-1']);
      expect(one.body.podDetails[0]).toMatchObject({
        capacity: expect.any(Number),
        accepting: true,
        queue: 'pod-py-eu-0',
        queueDepth: 0,
      });
    });

    it('registers and deregisters a pool; a deregistered pool gets no new sessions', async () => {
      const created = await api()
        .post('/v1/pools')
        .set(AUTH_ADMIN)
        .send({ name: 'node-x', template: 'node', weight: 3 })
        .expect(201);
      expect(created.body).toMatchObject({
        name: 'node-x',
        template: 'node',
        weight: 3,
        healthy: false,
        pods: 0,
      });
      expectApiError(
        await api().post('/v1/sessions').set(AUTH_A).send({ template: 'node' }),
        503,
        'unavailable',
        /no healthy pod/,
      );
      await api().delete('/v1/pools/node-x').set(AUTH_ADMIN).expect(204);
      await api().get('/v1/pools/node-x').set(AUTH_A).expect(404);
      expectApiError(
        await api().post('/v1/sessions').set(AUTH_A).send({ template: 'node' }),
        503,
        'unavailable',
        /no pool is registered/,
      );
    });

    it('refuses to re-register a name with another template (409)', async () => {
      expectApiError(
        await api().post('/v1/pools').set(AUTH_ADMIN).send({ name: 'py-eu', template: 'ruby' }),
        409,
        'conflict',
      );
    });
  });

  describe('sessions', () => {
    it('creates a session with every documented field and emits session.created', async () => {
      const before = Date.now();
      const res = await api()
        .post('/v1/sessions')
        .set(AUTH_A)
        .send({ template: 'python', ttlSeconds: 120, env: { FOO: 'bar' }, metadata: { owner: 'me' } })
        .expect(201);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^ses-[0-9a-f]{32}$/),
        template: 'python',
        pool: 'py-eu',
        pod: expect.stringMatching(/^py-eu-[01]$/),
        region: 'eu',
        persist: true,
        status: 'active',
        ttlSeconds: 120,
        createdAt: expect.any(String),
        expiresAt: expect.any(String),
        env: { FOO: 'bar' },
        metadata: { owner: 'me' },
      });
      const exp = Date.parse(res.body.expiresAt);
      expect(exp).toBeGreaterThanOrEqual(before + 120_000);
      await waitFor(
        async () => (await eventsOf(res.body.id)).includes('session.created'),
        10_000,
        () => 'session.created event',
      );
    });

    it('spreads new sessions over the pool’s pods (fewest sessions first)', async () => {
      const pods = new Set<string>();
      for (let i = 0; i < 4; i++) pods.add((await createSession()).pod);
      expect(pods).toEqual(new Set(['py-eu-0', 'py-eu-1']));
    });

    it('GET shows the session with migrations and lastSnapshotAt; list shows only the tenant’s own', async () => {
      const a = await createSession();
      const b = await createSession({}, AUTH_B);
      const got = await api().get(`/v1/sessions/${a.id}`).set(AUTH_A).expect(200);
      expect(got.body).toMatchObject({ id: a.id, migrations: [], lastSnapshotAt: null, status: 'active' });
      const listA = (await api().get('/v1/sessions').set(AUTH_A).expect(200)).body.items.map(
        (s: { id: string }) => s.id,
      );
      const listB = (await api().get('/v1/sessions').set(AUTH_B).expect(200)).body.items.map(
        (s: { id: string }) => s.id,
      );
      expect(listA).toContain(a.id);
      expect(listA).not.toContain(b.id);
      expect(listB).toEqual([b.id]);
    });

    it('PATCH extends the expiry, and every call moves it forward (idle TTL)', async () => {
      const s = await createSession({ ttlSeconds: 30 });
      const patched = await api()
        .patch(`/v1/sessions/${s.id}`)
        .set(AUTH_A)
        .send({ ttlSeconds: 3600 })
        .expect(200);
      expect(patched.body.ttlSeconds).toBe(3600);
      expect(Date.parse(patched.body.expiresAt)).toBeGreaterThan(Date.now() + 3500_000);
      const first = Date.parse(patched.body.expiresAt);
      await api().post(`/v1/sessions/${s.id}/executions`).set(AUTH_A).send({ code: 'print(1)' }).expect(200);
      const second = Date.parse(
        (await api().get(`/v1/sessions/${s.id}`).set(AUTH_A).expect(200)).body.expiresAt,
      );
      expect(second).toBeGreaterThanOrEqual(first);
    });

    it('DELETE removes the session, its kernel and state: 204, then 404, nothing left in Redis', async () => {
      const keysBefore = await lbKeys();
      const s = await createSession();
      await api().put(`/v1/sessions/${s.id}/files/keep.txt`).set(AUTH_A).send(Buffer.from('x')).expect(204);
      await api().delete(`/v1/sessions/${s.id}`).set(AUTH_A).expect(204);
      expectApiError(await api().get(`/v1/sessions/${s.id}`).set(AUTH_A), 404, 'not_found');
      expectApiError(await api().delete(`/v1/sessions/${s.id}`).set(AUTH_A), 404, 'not_found');
      expect((await lbKeys()).filter((k) => k.includes(s.id))).toEqual([]);
      expect(await lbKeys()).toEqual(expect.arrayContaining(keysBefore.filter((k) => !k.includes(':lock:'))));
      await waitFor(
        async () => (await eventsOf(s.id)).includes('session.deleted'),
        10_000,
        () => 'session.deleted event',
      );
    });

    it('POST …/persist stores a snapshot and sets lastSnapshotAt', async () => {
      const s = await createSession();
      const res = await api().post(`/v1/sessions/${s.id}/persist`).set(AUTH_A).expect(200);
      expect(res.body).toEqual({
        version: expect.any(Number),
        bytes: expect.any(Number),
        at: expect.any(String),
      });
      expect((await api().get(`/v1/sessions/${s.id}`).set(AUTH_A).expect(200)).body.lastSnapshotAt).toBe(
        res.body.at,
      );
    });

    it('an idle session expires: 404, closed by the sweeper, state deleted, session.expired sent', async () => {
      const s = await createSession({ ttlSeconds: 1 });
      await api().post(`/v1/sessions/${s.id}/executions`).set(AUTH_A).send({ code: 'y = 2' }).expect(200);
      await waitFor(
        async () => (await api().get(`/v1/sessions/${s.id}`).set(AUTH_A)).status === 404,
        10_000,
        () => 'session to expire',
      );
      expectApiError(
        await api().post(`/v1/sessions/${s.id}/executions`).set(AUTH_A).send({ code: 'print(y)' }),
        404,
        'not_found',
      );
      await waitFor(
        async () => (await eventsOf(s.id)).includes('session.expired'),
        10_000,
        () => 'session.expired event',
      );
      expect((await lbKeys()).filter((k) => k.includes(s.id))).toEqual([]);
      expect(await client.zscore(`${prefix}:lb:expiry`, s.id)).toBeNull();
    });
  });

  describe('executions', () => {
    let id: string;
    beforeAll(async () => {
      id = (await createSession()).id;
    });

    it('keeps state between executions and reports the documented fields', async () => {
      await api().post(`/v1/sessions/${id}/executions`).set(AUTH_A).send({ code: 'x = 41' }).expect(200);
      const res = await api()
        .post(`/v1/sessions/${id}/executions`)
        .set(AUTH_A)
        .send({ code: 'print(x)' })
        .expect(200);
      expect(res.body).toEqual(
        expect.objectContaining({
          id: expect.any(String),
          exitCode: 0,
          stdout: '41\n',
          stderr: '',
          durationMs: expect.any(Number),
          timedOut: false,
          truncated: false,
        }),
      );
    });

    it('a failing program is a 200 with its exit code', async () => {
      const res = await api()
        .post(`/v1/sessions/${id}/executions`)
        .set(AUTH_A)
        .send({ code: 'raise SystemExit(3)' })
        .expect(200);
      expect(res.body).toMatchObject({ exitCode: 3, timedOut: false });
    });

    it('a timeout kills only that execution: 200 with timedOut, and the session stays usable', async () => {
      const res = await api()
        .post(`/v1/sessions/${id}/executions`)
        .set(AUTH_A)
        .send({ code: 'import time\ntime.sleep(5)', timeoutMs: 200 })
        .expect(200);
      expect(res.body.timedOut).toBe(true);
      expect(
        (await api().post(`/v1/sessions/${id}/executions`).set(AUTH_A).send({ code: 'print(x)' }).expect(200))
          .body.stdout,
      ).toBe('41\n');
    });

    it('lists the history oldest first', async () => {
      const res = await api().get(`/v1/sessions/${id}/executions`).set(AUTH_A).expect(200);
      expect(res.body.items.map((e: { code: string }) => e.code)).toEqual([
        'x = 41',
        'print(x)',
        'raise SystemExit(3)',
        'import time\ntime.sleep(5)',
        'print(x)',
      ]);
      expect(res.body.items[2]).toEqual({
        id: expect.any(String),
        code: 'raise SystemExit(3)',
        exitCode: 3,
        durationMs: expect.any(Number),
        at: expect.any(String),
      });
    });
  });

  describe('files and packages', () => {
    let id: string;
    beforeAll(async () => {
      id = (await createSession()).id;
    });

    it('round-trips raw bytes (PUT 204 → GET the same bytes), lists recursively and deletes', async () => {
      const bytes = randomBytes(256 * 1024);
      bytes[0] = 0;
      await api()
        .put(`/v1/sessions/${id}/files/data/blob.bin`)
        .set(AUTH_A)
        .set('content-type', 'application/octet-stream')
        .send(bytes)
        .expect(204);
      await api()
        .put(`/v1/sessions/${id}/files/notes.txt`)
        .set(AUTH_A)
        .set('content-type', 'text/plain')
        .send('hello')
        .expect(204);
      await api()
        .put(`/v1/sessions/${id}/files/raw.json`)
        .set(AUTH_A)
        .set('content-type', 'application/json')
        .send('{not json')
        .expect(204);
      const got = await api()
        .get(`/v1/sessions/${id}/files/data/blob.bin`)
        .set(AUTH_A)
        .buffer(true)
        .parse(binary)
        .expect(200);
      expect(got.headers['content-type']).toBe('application/octet-stream');
      expect(Buffer.compare(got.body as Buffer, bytes)).toBe(0);
      const raw = await api()
        .get(`/v1/sessions/${id}/files/raw.json`)
        .set(AUTH_A)
        .buffer(true)
        .parse(binary)
        .expect(200);
      expect((raw.body as Buffer).toString()).toBe('{not json');
      const list = await api().get(`/v1/sessions/${id}/files`).set(AUTH_A).expect(200);
      expect(list.body.items.map((f: { path: string }) => f.path).sort()).toEqual([
        'data/blob.bin',
        'notes.txt',
        'raw.json',
      ]);
      expect(list.body.items.find((f: { path: string }) => f.path === 'data/blob.bin')).toEqual({
        path: 'data/blob.bin',
        size: bytes.length,
        modifiedAt: expect.any(String),
      });
      await api().delete(`/v1/sessions/${id}/files/notes.txt`).set(AUTH_A).expect(204);
      expectApiError(await api().get(`/v1/sessions/${id}/files/notes.txt`).set(AUTH_A), 404, 'not_found');
      expect(await client.keys(`${prefix}:xfer:*`)).toEqual([]);
    });

    it('installs packages into the session and lists them', async () => {
      const res = await api()
        .post(`/v1/sessions/${id}/packages`)
        .set(AUTH_A)
        .send({ packages: ['lbtestpkg==1.2.3'] });
      expect(res.status === 200 ? 'ok' : JSON.stringify(res.body)).toBe('ok');
      expect(res.body.installed).toEqual([{ name: 'lbtestpkg', version: '1.2.3' }]);
      const list = await api().get(`/v1/sessions/${id}/packages`).set(AUTH_A).expect(200);
      expect(list.body.items).toEqual(
        expect.arrayContaining([expect.objectContaining({ name: 'lbtestpkg', version: '1.2.3' })]),
      );
    });
  });

  describe('tenancy and roles: every endpoint across tenants', () => {
    let a: string;
    let historyBefore: unknown;
    beforeAll(async () => {
      a = (await createSession()).id;
      await api()
        .put(`/v1/sessions/${a}/files/secret.txt`)
        .set(AUTH_A)
        .send(Buffer.from('A only'))
        .expect(204);
      await api().post(`/v1/sessions/${a}/executions`).set(AUTH_A).send({ code: 'x = 1' }).expect(200);
      historyBefore = (await api().get(`/v1/sessions/${a}/executions`).set(AUTH_A).expect(200)).body;
    });

    const S = (p = '') => `/v1/sessions/${a}${p}`;
    const asB: Array<[string, () => request.Test]> = [
      ['GET session', () => api().get(S()).set(AUTH_B)],
      ['PATCH session', () => api().patch(S()).set(AUTH_B).send({ ttlSeconds: 60 })],
      ['DELETE session', () => api().delete(S()).set(AUTH_B)],
      ['POST persist', () => api().post(S('/persist')).set(AUTH_B)],
      [
        'POST executions',
        () => api().post(S('/executions')).set(AUTH_B).send({ code: 'open("pwned", "w").write("B")' }),
      ],
      ['GET executions (history)', () => api().get(S('/executions')).set(AUTH_B)],
      [
        'POST packages',
        () =>
          api()
            .post(S('/packages'))
            .set(AUTH_B)
            .send({ packages: ['lbtestpkg'] }),
      ],
      ['GET packages', () => api().get(S('/packages')).set(AUTH_B)],
      ['PUT file', () => api().put(S('/files/secret.txt')).set(AUTH_B).send(Buffer.from('B was here'))],
      ['GET file', () => api().get(S('/files/secret.txt')).set(AUTH_B)],
      ['GET files (list)', () => api().get(S('/files')).set(AUTH_B)],
      ['DELETE file', () => api().delete(S('/files/secret.txt')).set(AUTH_B)],
    ];
    it.each(asB)(
      "tenant B: %s of tenant A's session → 404 not_found (as for a missing one)",
      async (_n, send) => {
        const res = await send();
        expectApiError(res, 404, 'not_found');
        expect(res.body.error.message).toBe(`session "${a}" not found`);
      },
    );

    it("tenant B's list never shows A's session; A's session is untouched by all of the above", async () => {
      const listB = (await api().get('/v1/sessions').set(AUTH_B).expect(200)).body.items as { id: string }[];
      expect(listB.map((x) => x.id)).not.toContain(a);
      const file = await api().get(S('/files/secret.txt')).set(AUTH_A).expect(200);
      expect(Buffer.from(file.body as Buffer).toString()).toBe('A only');
      expect((await api().get(S('/executions')).set(AUTH_A).expect(200)).body).toEqual(historyBefore);
      const files = (await api().get(S('/files')).set(AUTH_A).expect(200)).body.items as { path: string }[];
      expect(files.map((f) => f.path)).toEqual(['secret.txt']);
    });

    it.each<[string, () => request.Test]>([
      [
        'POST /v1/pools',
        () => api().post('/v1/pools').set(AUTH_A).send({ name: 'mine', template: 'python' }),
      ],
      ['DELETE /v1/pools/{name}', () => api().delete('/v1/pools/py-eu').set(AUTH_A)],
    ])('a tenant key on %s → 403 permission_denied', async (_n, send) => {
      expectApiError(await send(), 403, 'permission_denied', /admin key/);
      await api().get('/v1/pools/py-eu').set(AUTH_A).expect(200);
    });

    it('an admin key on session routes → 403 (admins manage pools, tenants own sessions)', async () => {
      expectApiError(await api().get('/v1/sessions').set(AUTH_ADMIN), 403, 'permission_denied');
      expectApiError(await api().get(S()).set(AUTH_ADMIN), 403, 'permission_denied');
      expectApiError(
        await api().post('/v1/sessions').set(AUTH_ADMIN).send({ template: 'python' }),
        403,
        'permission_denied',
      );
      expect(ADMIN_KEY).not.toBe(KEY_A);
    });

    it("GET /v1/pools shows a tenant its own sessions only, an admin everyone's", async () => {
      const sessionsOf = async (auth: Record<string, string>): Promise<number> =>
        (
          (await api().get('/v1/pools').set(auth).expect(200)).body.items as {
            name: string;
            sessions: number;
          }[]
        ).find((p) => p.name === 'py-eu')?.sessions ?? -1;
      const mineA = (await api().get('/v1/sessions').set(AUTH_A).expect(200)).body.items.length as number;
      const mineB = (await api().get('/v1/sessions').set(AUTH_B).expect(200)).body.items.length as number;
      expect(await sessionsOf(AUTH_A)).toBe(mineA);
      expect(await sessionsOf(AUTH_B)).toBe(mineB);
      expect(await sessionsOf(AUTH_ADMIN)).toBe(mineA + mineB);
      const one = (await api().get('/v1/pools/py-eu').set(AUTH_B).expect(200)).body;
      expect(one.sessions).toBe(mineB);
      expect(one.podDetails[0]).not.toHaveProperty('sessions');
      expect(one.podDetails[0]).not.toHaveProperty('running');
      expect(
        (await api().get('/v1/pools/py-eu').set(AUTH_ADMIN).expect(200)).body.podDetails[0],
      ).toHaveProperty('sessions');
    });

    it("a session's environment never holds a credential of the platform", async () => {
      const r = await api()
        .post(S('/executions'))
        .set(AUTH_A)
        .send({ code: 'import os, json\nprint(json.dumps(dict(os.environ)))' })
        .expect(200);
      const env = JSON.parse(r.body.stdout) as Record<string, string>;
      expect(Object.keys(env).length).toBeGreaterThan(0); // the probe ran
      expect(env).not.toHaveProperty('REDIS_URL');
      const text = r.body.stdout as string;
      for (const secret of [KEY_A, ADMIN_KEY, 'redis://', acl.url(AclUsers.loadBalancer).split('@')[0]])
        expect(text).not.toContain(secret);
    });
  });

  describe('bad requests: the documented code, nothing left behind', () => {
    let own: string;
    let other: string;
    let keysBefore: string[];
    beforeAll(async () => {
      own = (await createSession()).id;
      other = (await createSession({}, AUTH_B)).id;
      keysBefore = await lbKeys();
    });
    afterAll(async () => {
      // No session, transfer or index entry was created by any bad request.
      // Rate-limit counters (`rl:`) are expected: they expire with their window.
      const after = (await lbKeys()).filter((k) => !k.includes(':lock:') && !k.includes(':lb:rl:'));
      expect(after.filter((k) => !keysBefore.includes(k))).toEqual([]);
      expect(await client.keys(`${prefix}:xfer:*`)).toEqual([]);
      expect((await api().get(`/v1/sessions/${other}`).set(AUTH_B).expect(200)).body.id).toBe(other);
    });

    type Case = [string, () => request.Test, number, string, RegExp?];
    const S = (p = '') => `/v1/sessions/${own}${p}`;
    const cases: Case[] = [
      ['no key', () => api().post('/v1/sessions').send({ template: 'python' }), 401, 'unauthenticated'],
      [
        'unknown key',
        () => api().get('/v1/sessions').set({ authorization: 'Bearer nope-nope-nope' }),
        401,
        'unauthenticated',
      ],
      [
        'basic auth with a wrong key',
        () => api().get('/v1/sessions').auth('x', 'wrong-key-123'),
        401,
        'unauthenticated',
      ],
      [
        'not a Bearer scheme',
        () => api().get('/v1/sessions').set({ authorization: KEY_A }),
        401,
        'unauthenticated',
      ],
      [
        'bad JSON',
        () =>
          api().post('/v1/sessions').set(AUTH_A).set('content-type', 'application/json').send('{"template":'),
        400,
        'invalid_argument',
        /invalid JSON/,
      ],
      [
        'empty JSON body',
        () => api().post('/v1/sessions').set(AUTH_A).set('content-type', 'application/json').send(''),
        400,
        'invalid_argument',
      ],
      ['JSON array body', () => api().post('/v1/sessions').set(AUTH_A).send([1, 2]), 400, 'invalid_argument'],
      [
        'text body for JSON',
        () => api().post('/v1/sessions').set(AUTH_A).set('content-type', 'text/plain').send('python'),
        400,
        'invalid_argument',
        /JSON object/,
      ],
      [
        'missing template',
        () => api().post('/v1/sessions').set(AUTH_A).send({}),
        400,
        'invalid_argument',
        /template/,
      ],
      [
        'template of the wrong type',
        () => api().post('/v1/sessions').set(AUTH_A).send({ template: 7 }),
        400,
        'invalid_argument',
        /template/,
      ],
      [
        'unknown template',
        () => api().post('/v1/sessions').set(AUTH_A).send({ template: 'cobol' }),
        400,
        'invalid_argument',
        /unknown template "cobol"/,
      ],
      [
        'negative ttlSeconds',
        () => api().post('/v1/sessions').set(AUTH_A).send({ template: 'python', ttlSeconds: -1 }),
        400,
        'invalid_argument',
        /ttlSeconds/,
      ],
      [
        'ttlSeconds not a number',
        () => api().post('/v1/sessions').set(AUTH_A).send({ template: 'python', ttlSeconds: 'abc' }),
        400,
        'invalid_argument',
        /ttlSeconds/,
      ],
      [
        'persist not a boolean',
        () => api().post('/v1/sessions').set(AUTH_A).send({ template: 'python', persist: 'yes' }),
        400,
        'invalid_argument',
        /persist/,
      ],
      [
        'env value not a string',
        () =>
          api()
            .post('/v1/sessions')
            .set(AUTH_A)
            .send({ template: 'python', env: { A: 1 } }),
        400,
        'invalid_argument',
        /env/,
      ],
      [
        'unknown field',
        () => api().post('/v1/sessions').set(AUTH_A).send({ template: 'python', gpu: true }),
        400,
        'invalid_argument',
      ],
      [
        'empty region',
        () => api().post('/v1/sessions').set(AUTH_A).send({ template: 'python', region: '' }),
        400,
        'invalid_argument',
        /region/,
      ],
      ['missing session', () => api().get('/v1/sessions/ses-000000').set(AUTH_A), 404, 'not_found'],
      ['malformed session id', () => api().get('/v1/sessions/bad%20id!').set(AUTH_A), 404, 'not_found'],
      [
        "another tenant's session (GET)",
        () => api().get(`/v1/sessions/${other}`).set(AUTH_A),
        404,
        'not_found',
      ],
      [
        "another tenant's session (DELETE)",
        () => api().delete(`/v1/sessions/${other}`).set(AUTH_A),
        404,
        'not_found',
      ],
      [
        "another tenant's session (execute)",
        () => api().post(`/v1/sessions/${other}/executions`).set(AUTH_A).send({ code: 'print(1)' }),
        404,
        'not_found',
      ],
      [
        "another tenant's session (files)",
        () => api().put(`/v1/sessions/${other}/files/a.txt`).set(AUTH_A).send(Buffer.from('x')),
        404,
        'not_found',
      ],
      [
        'execute without code',
        () => api().post(S('/executions')).set(AUTH_A).send({}),
        400,
        'invalid_argument',
        /code/,
      ],
      [
        'code over 1 MiB',
        () =>
          api()
            .post(S('/executions'))
            .set(AUTH_A)
            .send({ code: 'x'.repeat(MiB + 1) }),
        413,
        'payload_too_large',
        /code/,
      ],
      [
        'timeoutMs 0',
        () => api().post(S('/executions')).set(AUTH_A).send({ code: 'print(1)', timeoutMs: 0 }),
        400,
        'invalid_argument',
        /timeoutMs/,
      ],
      [
        'timeoutMs over 300000',
        () => api().post(S('/executions')).set(AUTH_A).send({ code: 'print(1)', timeoutMs: 300_001 }),
        400,
        'invalid_argument',
        /timeoutMs/,
      ],
      [
        'language of the wrong type',
        () => api().post(S('/executions')).set(AUTH_A).send({ code: 'print(1)', language: 5 }),
        400,
        'invalid_argument',
        /language/,
      ],
      [
        'PATCH with a string ttl',
        () => api().patch(S()).set(AUTH_A).send({ ttlSeconds: '10' }),
        400,
        'invalid_argument',
        /ttlSeconds/,
      ],
      [
        'PATCH of a missing session',
        () => api().patch('/v1/sessions/ses-missing').set(AUTH_A).send({ ttlSeconds: 10 }),
        404,
        'not_found',
      ],
      [
        'file path with ..',
        () => api().put(S('/files/..%2F..%2Fetc%2Fpasswd')).set(AUTH_A).send(Buffer.from('x')),
        400,
        'invalid_argument',
        /escapes/,
      ],
      [
        'file path climbing out mid-way',
        () => api().put(S('/files/a/..%2F..%2Fb')).set(AUTH_A).send(Buffer.from('x')),
        400,
        'invalid_argument',
        /escapes/,
      ],
      [
        'absolute file path',
        () => api().get(S('/files/%2Fetc%2Fpasswd')).set(AUTH_A),
        400,
        'invalid_argument',
        /absolute/,
      ],
      [
        'file over the size limit',
        () =>
          api()
            .put(S('/files/big.bin'))
            .set(AUTH_A)
            .set('content-type', 'application/octet-stream')
            .send(Buffer.alloc(MiB + 1)),
        413,
        'payload_too_large',
      ],
      ['missing file', () => api().get(S('/files/nope.txt')).set(AUTH_A), 404, 'not_found'],
      ['deleting a missing file', () => api().delete(S('/files/nope.txt')).set(AUTH_A), 404, 'not_found'],
      [
        'no packages',
        () => api().post(S('/packages')).set(AUTH_A).send({ packages: [] }),
        400,
        'invalid_argument',
        /packages/,
      ],
      [
        'unknown package manager',
        () =>
          api()
            .post(S('/packages'))
            .set(AUTH_A)
            .send({ manager: 'apt', packages: ['x'] }),
        400,
        'invalid_argument',
        /manager/,
      ],
      [
        'pool name not DNS-like',
        () => api().post('/v1/pools').set(AUTH_ADMIN).send({ name: 'Bad_Name', template: 'python' }),
        400,
        'invalid_argument',
        /name/,
      ],
      [
        'pool with unknown template',
        () => api().post('/v1/pools').set(AUTH_ADMIN).send({ name: 'cobol-pool', template: 'cobol' }),
        400,
        'invalid_argument',
        /template/,
      ],
      [
        'pool weight 0',
        () => api().post('/v1/pools').set(AUTH_ADMIN).send({ name: 'zero', template: 'python', weight: 0 }),
        400,
        'invalid_argument',
        /weight/,
      ],
      [
        'deregistering a missing pool',
        () => api().delete('/v1/pools/missing').set(AUTH_ADMIN),
        404,
        'not_found',
      ],
      ['missing pool', () => api().get('/v1/pools/missing').set(AUTH_A), 404, 'not_found'],
      [
        'JSON body over MAX_BODY_BYTES',
        () =>
          api()
            .post('/v1/sessions')
            .set(AUTH_A)
            .set('content-type', 'application/json')
            .send(`{"template":"${'p'.repeat(5 * MiB)}"}`),
        413,
        'payload_too_large',
      ],
      [
        'a JSON body just over 2 MiB (the default MAX_BODY_BYTES)',
        () =>
          api()
            .post(S('/executions'))
            .set(AUTH_A)
            .set('content-type', 'application/json')
            .send(`{"code":"${'p'.repeat(2 * MiB)}"}`),
        413,
        'payload_too_large',
      ],
      ['unknown route', () => api().get('/v1/nothing-here').set(AUTH_A), 404, 'not_found'],
      ['unsupported method', () => api().put('/v1/sessions').set(AUTH_A).send({}), 404, 'not_found'],
      [
        'no pool for the template',
        () => api().post('/v1/sessions').set(AUTH_A).send({ template: 'rust' }),
        503,
        'unavailable',
      ],
    ];

    // Every row has 5 columns (Jest would take a 5th parameter of a 4-column row for `done`).
    it.each(
      cases.map(
        ([name, send, status, code, message]) =>
          [`${name} → ${status} ${code}`, send, status, code, message] as Case,
      ),
    )('%s', async (_name, send, status, code, message) => {
      expectApiError(await send(), status, code, message);
    });

    it('503 carries retryAfterSeconds and a Retry-After header', async () => {
      const res = await api().post('/v1/sessions').set(AUTH_A).send({ template: 'go' });
      expectApiError(res, 503, 'unavailable');
      expect(Number(res.headers['retry-after'])).toBe(res.body.error.retryAfterSeconds);
    });
  });
});

/** supertest parser keeping the raw bytes of a response. */
function binary(res: request.Response, cb: (err: Error | null, body: Buffer) => void): void {
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => cb(null, Buffer.concat(chunks)));
}
