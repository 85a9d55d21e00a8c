import request from 'supertest';
import type Redis from 'ioredis';
import { createRedis } from '@executor/queues';
import { startRedis, uniquePrefix, type TestRedis } from '@executor/testing';
import { AUTH_A, KEY_A, KEY_B, startLb, testConfig } from './support/app';
import { startExecutor, startPersistence, type Proc } from './support/harness';

/**
 * E2B's protocol on the real app (in process, real port, real Redis, an executor process):
 * routing on E2b-Sandbox-Id before every other route, the control plane's exact statuses and
 * `{code, message}` bodies, tenancy, the sandbox plane's tokens, pause/resume, and that the
 * /v1 API and the E2B surface see one and the same session.
 */
describe('E2B protocol (real app, real Redis, executor process)', () => {
  let redis: TestRedis;
  let client: Redis;
  let prefix: string;
  let persistence: Proc | undefined;
  let executor: Proc;
  let lb: Awaited<ReturnType<typeof startLb>>;
  const api = () => request(lb.url);
  const e2b = (key = KEY_A) => ({ 'x-api-key': key });
  const create = async (body: Record<string, unknown> = {}, key = KEY_A) =>
    (
      await api()
        .post('/v2/sandboxes')
        .set(e2b(key))
        .send({ templateID: 'python', ...body })
        .expect(201)
    ).body as { sandboxID: string; envdAccessToken: string; trafficAccessToken: string; envdVersion: string };
  const sbx = (id: string, port = 49983, token?: string) => ({
    'e2b-sandbox-id': id,
    'e2b-sandbox-port': String(port),
    ...(token ? { 'x-access-token': token } : {}),
  });

  beforeAll(async () => {
    redis = await startRedis();
    client = createRedis(redis.url);
    prefix = uniquePrefix('e2b');
    persistence = await startPersistence(redis.url, prefix);
    executor = await startExecutor(client, { redisUrl: redis.url, prefix, pool: 'py', pod: 'py-0' });
    lb = await startLb(testConfig(redis.url, prefix, { SESSION_SWEEP_INTERVAL_MS: '200' }));
    await api().post('/v1/pools').set(AUTH_A).send({ name: 'py', template: 'python' }).expect(201);
  }, 90_000);

  afterAll(async () => {
    await lb?.app.close();
    await executor?.stop();
    await persistence?.stop();
    client?.disconnect();
    await redis?.stop();
  });

  it('routes on E2b-Sandbox-Id before any other route (envd /health is not the platform health)', async () => {
    await api().get('/health/live').expect(200);
    const gone = await api().get('/health/live').set(sbx('ses-missing')).expect(502);
    expect(gone.body).toEqual({ code: 502, message: expect.stringContaining('ses-missing') });
    await api().get('/health').set(sbx('ses-missing')).expect(502);
    const s = await create();
    await api().get('/health').set(sbx(s.sandboxID)).expect(204);
    // Another port of the sandbox: not open.
    const port = await api().get('/').set(sbx(s.sandboxID, 8080));
    expect(port.status).toBe(502);
    // The internal prefix cannot be reached without the header.
    await api().get('/_e2b/sandbox/49983/health').expect(404);
  });

  it('answers the control plane with E2B statuses and {code, message} bodies', async () => {
    const bad = await api().post('/v2/sandboxes').set(e2b('not-a-key-123')).send({ templateID: 'python' });
    expect(bad.status).toBe(401);
    expect(bad.body).toEqual({ code: 401, message: expect.any(String) });
    const none = await api().post('/v2/sandboxes').send({});
    expect(none.status).toBe(401);
    const unknown = await api().post('/v2/sandboxes').set(e2b()).send({ templateID: 'no-such-template' });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ code: 400, message: expect.stringContaining('template') });
    const net = await api()
      .post('/v2/sandboxes')
      .set(e2b())
      .send({ templateID: 'python', allow_internet_access: true });
    expect(net.body).toMatchObject({ code: 400, message: expect.stringContaining('network') });
    const missing = await api().get('/sandboxes/ses-nope').set(e2b());
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ code: 404, message: expect.any(String) });
    expect((await api().delete('/sandboxes/ses-nope').set(e2b())).body).toMatchObject({ code: 404 });

    const s = await create({ timeout: 120, metadata: { a: 'b c' }, envVars: { X: '1' } });
    expect(s).toMatchObject({ envdVersion: '0.5.7', envdAccessToken: expect.any(String) });
    expect(s.envdAccessToken.length).toBeGreaterThanOrEqual(43); // 32 random bytes, base64url
    const info = await api().get(`/sandboxes/${s.sandboxID}`).set(e2b()).expect(200);
    expect(info.body).toMatchObject({
      sandboxID: s.sandboxID,
      templateID: 'python',
      state: 'running',
      metadata: { a: 'b c' },
      envdVersion: '0.5.7',
    });
    const end = Date.parse(info.body.endAt) - Date.parse(info.body.startedAt);
    expect(end).toBeGreaterThan(110_000);
    // Use does not move an absolute timeout; setTimeout resets it (shortening too).
    await api().post(`/sandboxes/${s.sandboxID}/timeout`).set(e2b()).send({ timeout: 30 }).expect(204);
    const after = await api().get(`/sandboxes/${s.sandboxID}`).set(e2b()).expect(200);
    expect(Date.parse(after.body.endAt) - Date.now()).toBeLessThan(31_000);
    // The same session in /v1.
    const v1 = await api().get(`/v1/sessions/${s.sandboxID}`).set(AUTH_A).expect(200);
    expect(v1.body).toMatchObject({ id: s.sandboxID, env: { X: '1' }, metadata: { a: 'b c' } });
    await api().delete(`/sandboxes/${s.sandboxID}`).set(e2b()).expect(204);
    expect((await api().delete(`/sandboxes/${s.sandboxID}`).set(e2b())).status).toBe(404);
    await api().get('/health').set(sbx(s.sandboxID)).expect(502);
  });

  it("isolates tenants: another tenant's sandbox is E2B's not-found; tokens guard the sandbox plane", async () => {
    const s = await create();
    expect((await api().get(`/sandboxes/${s.sandboxID}`).set(e2b(KEY_B))).body).toMatchObject({ code: 404 });
    expect((await api().post(`/v2/sandboxes/${s.sandboxID}/connect`).set(e2b(KEY_B)).send({})).status).toBe(
      404,
    );
    expect((await api().delete(`/sandboxes/${s.sandboxID}`).set(e2b(KEY_B))).status).toBe(404);
    const listB = await api().get('/v2/sandboxes').set(e2b(KEY_B)).expect(200);
    expect(listB.body.map((x: { sandboxID: string }) => x.sandboxID)).not.toContain(s.sandboxID);
    // Sandbox plane: no token, a wrong token, the other sandbox's token → 401 (Connect unary error format).
    for (const token of [undefined, 'wrong', (await create({}, KEY_B)).envdAccessToken]) {
      const r = await api()
        .post('/filesystem.Filesystem/Stat')
        .set({ ...sbx(s.sandboxID, 49983, token), 'content-type': 'application/json' })
        .send({ path: '/home/user' });
      expect(r.status).toBe(401);
      expect(r.body).toMatchObject({ code: 'unauthenticated' });
    }
    // The code interpreter takes the traffic token (its /contexts calls carry no other credential).
    const noTraffic = await api().get('/contexts').set(sbx(s.sandboxID, 49999));
    expect(noTraffic.status).toBe(401);
    // Unknown users are refused on envd.
    const user = await api()
      .post('/filesystem.Filesystem/Stat')
      .set({
        ...sbx(s.sandboxID, 49983, s.envdAccessToken),
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from('mallory:').toString('base64')}`,
      })
      .send({ path: '/home/user' });
    expect(user.body).toMatchObject({ code: 'unauthenticated' });
  });

  it('lists with metadata (double-encoded), state filters and X-Next-Token paging', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++)
      ids.push((await create({ metadata: { group: 'g 1&2', n: String(i) } })).sandboxID);
    const meta = encodeURIComponent(
      new URLSearchParams({ [encodeURIComponent('group')]: encodeURIComponent('g 1&2') }).toString(),
    );
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await api()
        .get(
          `/v2/sandboxes?metadata=${meta}&state=running,paused&limit=2${token ? `&nextToken=${token}` : ''}`,
        )
        .set(e2b())
        .expect(200);
      seen.push(...r.body.map((x: { sandboxID: string }) => x.sandboxID));
      token = r.headers['x-next-token'];
      pages++;
    } while (token);
    expect(pages).toBe(2);
    expect(seen.sort()).toEqual([...ids].sort());
    const paused = await api().get(`/v2/sandboxes?metadata=${meta}&state=paused`).set(e2b()).expect(200);
    expect(paused.body).toEqual([]);
  });

  it('pauses (409 when already paused, 502 on the sandbox plane, 409 on /v1) and resumes on connect (201, then 200)', async () => {
    const s = await create({ envVars: { KEEP: 'me' } });
    await api()
      .put(`/v1/sessions/${s.sandboxID}/files/kept.txt`)
      .set(AUTH_A)
      .send(Buffer.from('still'))
      .expect(204);
    await api().post(`/sandboxes/${s.sandboxID}/pause`).set(e2b()).send({}).expect(204);
    expect((await api().post(`/sandboxes/${s.sandboxID}/pause`).set(e2b()).send({})).body).toMatchObject({
      code: 409,
    });
    expect((await api().get(`/sandboxes/${s.sandboxID}`).set(e2b())).body.state).toBe('paused');
    await api().get('/health').set(sbx(s.sandboxID)).expect(502);
    expect(
      (await api().post(`/v1/sessions/${s.sandboxID}/executions`).set(AUTH_A).send({ code: '1' })).status,
    ).toBe(409);
    const pool = await api().get('/v1/pools/py').set(AUTH_A).expect(200);
    expect(pool.body.podDetails[0].assignedSessions).toBeDefined();
    const resumed = await api().post(`/v2/sandboxes/${s.sandboxID}/connect`).set(e2b()).send({ timeout: 60 });
    expect(resumed.status).toBe(201);
    expect(resumed.body).toMatchObject({ sandboxID: s.sandboxID, envdAccessToken: s.envdAccessToken });
    expect((await api().post(`/v2/sandboxes/${s.sandboxID}/connect`).set(e2b()).send({})).status).toBe(200);
    const file = await api().get(`/v1/sessions/${s.sandboxID}/files/kept.txt`).set(AUTH_A).expect(200);
    expect(Buffer.from(file.body as Buffer).toString()).toBe('still');
    const env = await api()
      .post(`/v1/sessions/${s.sandboxID}/executions`)
      .set(AUTH_A)
      .send({ code: "import os\nprint(os.environ['KEEP'])" })
      .expect(200);
    expect(env.body.stdout).toBe('me\n');
    const v1 = await api().get(`/v1/sessions/${s.sandboxID}`).set(AUTH_A).expect(200);
    expect(v1.body.migrations.map((m: { reason: string }) => m.reason)).toEqual(['resumed']);
  });

  it('streams /execute as NDJSON: whole lines, no empty line, ending with the execution count', async () => {
    const s = await create();
    const r = await api()
      .post('/execute')
      .set({ ...sbx(s.sandboxID, 49999, s.envdAccessToken), 'content-type': 'application/json' })
      .send({ code: "print('hi')\n6*7" })
      .expect(200);
    expect(r.headers['content-type']).toContain('application/x-ndjson');
    const lines = r.text.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.every((l) => l.length > 0)).toBe(true);
    const msgs = lines.map((l) => JSON.parse(l) as { type: string; text?: string });
    expect(
      msgs
        .filter((m) => m.type === 'stdout')
        .map((m) => m.text)
        .join(''),
    ).toBe('hi\n');
    expect(msgs.at(-1)).toEqual({ type: 'end_of_execution' });
    // Traffic token instead of the envd token, and both a language and a context → 400 before streaming.
    const both = await api()
      .post('/execute')
      .set({
        ...sbx(s.sandboxID, 49999),
        'e2b-traffic-access-token': s.trafficAccessToken,
        'content-type': 'application/json',
      })
      .send({ code: '1', language: 'python', context_id: 'default' });
    expect(both.status).toBe(400);
  });

  it('streams Connect envelopes as they happen: WatchDir start, keepalives, end-stream trailer', async () => {
    const s = await create();
    const body = Buffer.from(JSON.stringify({ path: '/home/user', recursive: false }));
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), body]);
    frame.writeUInt32BE(body.length, 1);
    // An error in a stream (a path outside the sandbox) is the end-stream trailer.
    const bad = Buffer.from(JSON.stringify({ path: '/etc' }));
    const badFrame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), bad]);
    badFrame.writeUInt32BE(bad.length, 1);
    const r2 = await fetch(`${lb.url}/filesystem.Filesystem/WatchDir`, {
      method: 'POST',
      headers: { ...sbx(s.sandboxID, 49983, s.envdAccessToken), 'content-type': 'application/connect+json' },
      body: badFrame,
    });
    const raw = Buffer.from(await r2.arrayBuffer());
    expect(raw[0]).toBe(2);
    expect(JSON.parse(raw.subarray(5).toString())).toMatchObject({ error: { code: 'invalid_argument' } });
    const ctrl = new AbortController();
    const res = await fetch(`${lb.url}/filesystem.Filesystem/WatchDir`, {
      method: 'POST',
      headers: {
        ...sbx(s.sandboxID, 49983, s.envdAccessToken),
        'content-type': 'application/connect+json',
        'connect-protocol-version': '1',
        'keepalive-ping-interval': '1',
      },
      body: frame,
      signal: ctrl.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/connect+json');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let buf = Buffer.alloc(0);
    const next = async (): Promise<{ flags: number; msg: Record<string, unknown> }> => {
      while (buf.length < 5 || buf.length < 5 + buf.readUInt32BE(1)) {
        const r = await reader.read();
        if (r.done) throw new Error('stream ended');
        buf = Buffer.concat([buf, Buffer.from(r.value)]);
      }
      const len = buf.readUInt32BE(1);
      const out = {
        flags: buf[0] as number,
        msg: JSON.parse(buf.subarray(5, 5 + len).toString()) as Record<string, unknown>,
      };
      buf = buf.subarray(5 + len);
      return out;
    };
    expect(await next()).toEqual({ flags: 0, msg: { start: {} } });
    expect(await next()).toEqual({ flags: 0, msg: { keepalive: {} } }); // after ~1 s, nothing else happened
    ctrl.abort();
  });
});
