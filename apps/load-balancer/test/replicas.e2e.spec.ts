import request from 'supertest';
import type Redis from 'ioredis';
import { AclUsers } from '@executor/queues';
import { uniquePrefix } from '@executor/testing';
import { AUTH_A, AUTH_ADMIN, KEYS_ENV, KEY_B } from './support/app';
import { spawnLoadBalancer, startExecutor, startPersistence, waitFor, type Proc } from './support/harness';
import { startAclRedis, type AclRedis } from './support/redis-acl';

type Lb = Proc & { url: string };

describe('stateless replicas (two load-balancer processes)', () => {
  let acl: AclRedis;
  let client: Redis;
  let prefix: string;
  let persistence: Proc | undefined;
  let a: Lb;
  let b: Lb;
  const executors: Proc[] = [];

  beforeAll(async () => {
    prefix = uniquePrefix('rep');
    acl = await startAclRedis(prefix);
    client = acl.admin;
    persistence = await startPersistence(acl);
    for (const pod of ['py-0', 'py-1']) executors.push(await startExecutor(client, { acl, pool: 'py', pod }));
    const env = (id: string) => ({
      REDIS_URL: acl.url(AclUsers.loadBalancer),
      QUEUE_PREFIX: prefix,
      REPLICA_ID: id,
      ...KEYS_ENV,
      // 48 sessions of one tenant: above the default quota (20), which is not what this suite tests
      TENANT_MAX_SESSIONS: '100',
      LOG_LEVEL: 'warn',
    });
    [a, b] = await Promise.all([spawnLoadBalancer(env('lb-a')), spawnLoadBalancer(env('lb-b'))]);
    await request(a.url)
      .post('/v1/pools')
      .set(AUTH_ADMIN)
      .send({ name: 'py', template: 'python' })
      .expect(201);
  }, 240_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), ...executors.map((e) => e.stop())]);
    await persistence?.stop();
    await acl?.stop();
  });

  it('two replicas on different ports give the same answers for the same session', async () => {
    expect(a.url).not.toBe(b.url);
    const s = (
      await request(a.url)
        .post('/v1/sessions')
        .set(AUTH_A)
        .send({ template: 'python', metadata: { k: 'v' } })
        .expect(201)
    ).body;
    const [ga, gb] = await Promise.all([
      request(a.url).get(`/v1/sessions/${s.id}`).set(AUTH_A),
      request(b.url).get(`/v1/sessions/${s.id}`).set(AUTH_A),
    ]);
    expect(gb.status).toBe(200);
    expect(gb.body).toEqual(ga.body);
    await request(b.url)
      .post(`/v1/sessions/${s.id}/executions`)
      .set(AUTH_A)
      .send({ code: 'q = 5' })
      .expect(200);
    expect(
      (
        await request(a.url)
          .post(`/v1/sessions/${s.id}/executions`)
          .set(AUTH_A)
          .send({ code: 'print(q)' })
          .expect(200)
      ).body.stdout,
    ).toBe('5\n');
    const [ha, hb] = await Promise.all([
      request(a.url).get(`/v1/sessions/${s.id}/executions`).set(AUTH_A),
      request(b.url).get(`/v1/sessions/${s.id}/executions`).set(AUTH_A),
    ]);
    expect(ha.body.items.map((e: { code: string }) => e.code)).toEqual(['q = 5', 'print(q)']);
    expect(hb.body).toEqual(ha.body);
    await request(a.url)
      .put(`/v1/sessions/${s.id}/files/f.txt`)
      .set(AUTH_A)
      .send(Buffer.from('shared'))
      .expect(204);
    expect(
      Buffer.from(
        (await request(b.url).get(`/v1/sessions/${s.id}/files/f.txt`).set(AUTH_A).expect(200)).body as Buffer,
      ).toString(),
    ).toBe('shared');
    const [la, lb] = await Promise.all([
      request(a.url).get('/v1/sessions').set(AUTH_A),
      request(b.url).get('/v1/sessions').set(AUTH_A),
    ]);
    expect(lb.body).toEqual(la.body);
    const [pa, pb] = await Promise.all([
      request(a.url).get('/v1/pools/py').set(AUTH_A),
      request(b.url).get('/v1/pools/py').set(AUTH_A),
    ]);
    expect({ ...pb.body, connections: 0, podDetails: [] }).toEqual({
      ...pa.body,
      connections: 0,
      podDetails: [],
    });
    await request(b.url)
      .get(`/v1/sessions/${s.id}`)
      .set({ authorization: `Bearer ${KEY_B}` })
      .expect(404);
    await request(b.url).delete(`/v1/sessions/${s.id}`).set(AUTH_A).expect(204);
    await request(a.url).get(`/v1/sessions/${s.id}`).set(AUTH_A).expect(404);
  });

  it('SIGTERM drains: an execution in flight on the stopping replica still answers 200', async () => {
    const extra = await spawnLoadBalancer({
      REDIS_URL: acl.url(AclUsers.loadBalancer),
      QUEUE_PREFIX: prefix,
      REPLICA_ID: 'lb-c',
      ...KEYS_ENV,
      LOG_LEVEL: 'warn',
    });
    const s = (
      await request(extra.url).post('/v1/sessions').set(AUTH_A).send({ template: 'python' }).expect(201)
    ).body;
    const inFlight = request(extra.url)
      .post(`/v1/sessions/${s.id}/executions`)
      .set(AUTH_A)
      .send({ code: 'import time\ntime.sleep(1)\nprint(3)' });
    const pending = inFlight.then((r) => r);
    // Stop only once the job is on the pod (its history has nothing yet; the pod is running it).
    await waitFor(
      async () => (await client.keys(`${prefix}:pod-*:active`)).length > 0,
      10_000,
      () => 'execution to start',
    );
    extra.child.kill('SIGTERM');
    const res = await pending;
    expect({ status: res.status, stdout: res.body.stdout }).toEqual({ status: 200, stdout: '3\n' });
    // Nest re-raises the signal after a clean shutdown: exit by SIGTERM (or 0), never a crash code.
    const code = await extra.exited;
    expect(code === 0 || extra.child.signalCode === 'SIGTERM').toBe(true);
    // The other replica sees the acknowledged execution.
    const h = await request(b.url).get(`/v1/sessions/${s.id}/executions`).set(AUTH_A).expect(200);
    expect(h.body.items.map((e: { code: string }) => e.code)).toEqual([
      'import time\ntime.sleep(1)\nprint(3)',
    ]);
  });

  it('a replica killed mid-run loses nothing that was acknowledged', async () => {
    const acked: { id: string; codes: string[] }[] = [];
    let killed = false;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; i < 12; i++) {
        const via = (i + w) % 2 === 0 && !killed ? a.url : b.url;
        const created = await request(via)
          .post('/v1/sessions')
          .set(AUTH_A)
          .send({ template: 'python' })
          .catch(() => undefined);
        if (created?.status !== 201) continue;
        const entry = { id: created.body.id as string, codes: [] as string[] };
        acked.push(entry);
        for (let j = 0; j < 3; j++) {
          const code = `v${j} = ${i}`;
          const target = j % 2 === 0 && !killed ? a.url : b.url;
          const r = await request(target)
            .post(`/v1/sessions/${entry.id}/executions`)
            .set(AUTH_A)
            .send({ code })
            .catch(() => undefined);
          if (r?.status === 200) entry.codes.push(code);
        }
        if (w === 0 && i === 4 && !killed) {
          killed = true;
          a.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all([0, 1, 2, 3].map(worker));
    await a.exited;
    expect(killed).toBe(true);
    expect(acked.length).toBeGreaterThan(20);
    for (const s of acked) {
      await request(b.url).get(`/v1/sessions/${s.id}`).set(AUTH_A).expect(200);
      const h = await request(b.url).get(`/v1/sessions/${s.id}/executions`).set(AUTH_A).expect(200);
      const codes = (h.body.items as { code: string }[]).map((e) => e.code);
      expect(codes).toEqual(expect.arrayContaining(s.codes));
    }
  });
});
