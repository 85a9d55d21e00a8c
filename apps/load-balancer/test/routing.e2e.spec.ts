import request from 'supertest';
import type Redis from 'ioredis';
import { Queue } from 'bullmq';
import {
  AclUsers,
  bullConnection,
  EventJobDefs,
  PodEventTypes,
  PoolRegistryJobs,
  QueueNames,
  heartbeatKeys,
  podQueueName,
} from '@executor/queues';
import { uniquePrefix } from '@executor/testing';
import { AUTH_A, AUTH_ADMIN, startLb, testConfig } from './support/app';
import { startExecutor, startPersistence, waitFor, type ExecutorOptions, type Proc } from './support/harness';
import { startAclRedis, type AclRedis } from './support/redis-acl';

describe('routing, breakers, migration (real app, real Redis, executor processes)', () => {
  let acl: AclRedis;
  let client: Redis;
  let prefix: string;
  let persistence: Proc | undefined;
  let lb: Awaited<ReturnType<typeof startLb>>;
  const pods = new Map<string, Proc>();
  const queues: Queue[] = [];
  const api = () => request(lb.url);

  const startPod = async (o: Omit<ExecutorOptions, 'acl'>): Promise<void> => {
    pods.set(o.pod, await startExecutor(client, { acl, ...o }));
  };
  const register = (name: string, region: string, weight = 1) =>
    api().post('/v1/pools').set(AUTH_ADMIN).send({ name, template: 'python', region, weight }).expect(201);
  const create = async (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    (
      await api()
        .post('/v1/sessions')
        .set(AUTH_A)
        .set(headers)
        .send({ template: 'python', ...body })
        .expect(201)
    ).body as { id: string; pool: string; pod: string };
  const queue = (name: string): Queue => {
    const q = new Queue(name, { connection: bullConnection(acl.redis.url), prefix });
    queues.push(q);
    return q;
  };
  const heartbeatGone = (pod: string) =>
    waitFor(
      async () => (await client.exists(heartbeatKeys.pod(pod, prefix))) === 0,
      15_000,
      () => `heartbeat of ${pod} to lapse`,
      100,
    );

  beforeAll(async () => {
    prefix = uniquePrefix('rt');
    acl = await startAclRedis(prefix);
    client = acl.admin;
    persistence = await startPersistence(acl);
    await Promise.all([
      startPod({ pool: 'py-eu', pod: 'py-eu-0', region: 'eu' }),
      startPod({ pool: 'py-us', pod: 'py-us-0', region: 'us' }),
      // Becomes a broken pod below: a real executor whose queue is taken from its Redis user.
      startPod({ pool: 'py-bad', pod: 'py-bad-0', region: 'x' }),
      startPod({ pool: 'py-good', pod: 'py-good-0', region: 'x' }),
      startPod({ pool: 'py-mig', pod: 'py-mig-0', region: 'm' }),
      startPod({ pool: 'py-mig', pod: 'py-mig-1', region: 'm' }),
    ]);
    // Lazy migration path under test: the orphan sweeper stays out of the way.
    // A real Redis-level fault: py-bad-0 keeps its heartbeat (alive, accepting) but its user may
    // no longer touch its queue, so nothing sent there is ever answered (every open times out).
    await acl.revokeQueue({ pool: 'py-bad', pod: 'py-bad-0' });
    lb = await startLb(
      testConfig(acl.url(AclUsers.loadBalancer), prefix, {
        REGION_DISTANCES: 'eu:eu-central=1,eu:us=10,eu-central:us=9',
        SESSION_SWEEP_INTERVAL_MS: '600000',
      }),
    );
    await register('py-eu', 'eu');
    await register('py-us', 'us');
    await register('py-bad', 'x', 1000);
    await register('py-good', 'x', 1);
    await register('py-mig', 'm');
  }, 240_000);

  afterAll(async () => {
    await lb?.app.close();
    await Promise.all(queues.map((q) => q.close()));
    await Promise.all([...pods.values()].map((p) => p.stop('SIGKILL')));
    await persistence?.stop();
    await acl?.stop();
  });

  describe('region preference', () => {
    it('uses the requested region, then X-Client-Region', async () => {
      expect((await create({ region: 'us' })).pool).toBe('py-us');
      expect((await create({}, { 'x-client-region': 'eu' })).pool).toBe('py-eu');
      expect((await create({ region: 'us' }, { 'x-client-region': 'eu' })).pool).toBe('py-us');
    });

    it('falls back to the nearest region by the distance table, else any', async () => {
      for (let i = 0; i < 3; i++) expect((await create({ region: 'eu-central' })).pool).toBe('py-eu');
      const any = await create({ region: 'mars' });
      expect(['py-eu', 'py-us', 'py-bad', 'py-good', 'py-mig']).toContain(any.pool);
      const metrics = (await api().get('/metrics').expect(200)).text;
      expect(metrics).toMatch(/lb_routing_decisions_total\{reason="same_region"\} \d+/);
      expect(metrics).toMatch(/lb_routing_decisions_total\{reason="nearest_region"\} 3/);
    });
  });

  describe('circuit breaker', () => {
    // Five opens that each wait POD_CALL_TIMEOUT_MS (5 s) before they count as failures.
    jest.setTimeout(90_000);
    it('infrastructure failures open the pool circuit; open pools get no new sessions', async () => {
      const badQueue = queue(podQueueName('py-bad-0'));
      // py-bad has weight 1000 and no sessions: it is always preferred, and always fails to open.
      for (let i = 0; i < 5; i++) expect((await create({ region: 'x' })).pool).toBe('py-good');
      // Jobs ever sent to the pod (its queue's "waiting" events; timed-out ones are withdrawn).
      const jobsOnBad = async (): Promise<number> =>
        (await client.xrange(`${prefix}:${badQueue.name}:events`, '-', '+')).filter(
          ([, fields]) => fields[1] === 'waiting',
        ).length;
      // Five infrastructure failures (opens that time out on a pod that never answers) open the
      // circuit of py-bad and only of py-bad.
      const pools = (await api().get('/v1/pools').set(AUTH_A).expect(200)).body.items as {
        name: string;
        circuit: string;
      }[];
      expect(pools.find((p) => p.name === 'py-bad')?.circuit).toBe('open');
      expect(pools.find((p) => p.name === 'py-good')?.circuit).toBe('closed');
      expect(await jobsOnBad()).toBeGreaterThan(0);
      expect(await jobsOnBad()).toBeLessThanOrEqual(5);
      // Diverted without being tried: no new job reaches the open pool.
      const before = await jobsOnBad();
      for (let i = 0; i < 3; i++) expect((await create({ region: 'x' })).pool).toBe('py-good');
      expect(await jobsOnBad()).toBe(before);
      expect((await api().get('/metrics').expect(200)).text).toMatch(
        /lb_pool_circuit_state\{pool="py-bad"\} 2/,
      );
    });

    it('user code failing does not count against the pool', async () => {
      const s = await create({ region: 'us' });
      for (let i = 0; i < 6; i++)
        await api()
          .post(`/v1/sessions/${s.id}/executions`)
          .set(AUTH_A)
          .send({ code: 'raise SystemExit(1)' })
          .expect(200);
      for (let i = 0; i < 6; i++)
        await api().get(`/v1/sessions/${s.id}/files/missing.txt`).set(AUTH_A).expect(404);
      const pools = (await api().get('/v1/pools').set(AUTH_A).expect(200)).body.items as {
        name: string;
        circuit: string;
      }[];
      expect(pools.find((p) => p.name === 'py-us')?.circuit).toBe('closed');
    });
  });

  describe('migration', () => {
    it('a killed pod’s session moves to a live pod of its pool with its files, once, transparently', async () => {
      const s = await create({ region: 'm' });
      await api()
        .put(`/v1/sessions/${s.id}/files/dir/a.txt`)
        .set(AUTH_A)
        .send(Buffer.from('survives'))
        .expect(204);
      await api().post(`/v1/sessions/${s.id}/executions`).set(AUTH_A).send({ code: 'x = 7' }).expect(200);
      await api().post(`/v1/sessions/${s.id}/persist`).set(AUTH_A).expect(200);
      const victim = s.pod;
      const survivor = victim === 'py-mig-0' ? 'py-mig-1' : 'py-mig-0';
      await pods.get(victim)?.stop('SIGKILL');
      pods.delete(victim);
      await heartbeatGone(victim);

      // Concurrent calls: every one succeeds, the session moves exactly once.
      const results = await Promise.all(
        Array.from({ length: 4 }, () =>
          api().post(`/v1/sessions/${s.id}/executions`).set(AUTH_A).send({ code: 'print(5)' }),
        ),
      );
      for (const r of results)
        expect({ status: r.status, stdout: r.body.stdout }).toEqual({ status: 200, stdout: '5\n' });
      const file = await api().get(`/v1/sessions/${s.id}/files/dir/a.txt`).set(AUTH_A).expect(200);
      expect(Buffer.from(file.body as Buffer).toString()).toBe('survives');
      const got = (await api().get(`/v1/sessions/${s.id}`).set(AUTH_A).expect(200)).body;
      expect(got.pod).toBe(survivor);
      expect(got.migrations).toEqual([
        { from: victim, to: survivor, at: expect.any(String), reason: 'heartbeat_lapsed' },
      ]);
      const history = (await api().get(`/v1/sessions/${s.id}/executions`).set(AUTH_A).expect(200)).body
        .items as { code: string }[];
      expect(history.map((h) => h.code)).toEqual(['x = 7', 'print(5)', 'print(5)', 'print(5)', 'print(5)']);
      const events = await queue(QueueNames.sessionEvents).getJobs(['waiting', 'completed']);
      expect(events.filter((j) => j.name === 'session.migrated' && j.data.sessionId === s.id)).toHaveLength(
        1,
      );
    });

    it('a pod that restarted (lost the session, heartbeat never lapsed) gets it back from its snapshot', async () => {
      const s = await create({ region: 'eu' });
      await api()
        .put(`/v1/sessions/${s.id}/files/r.txt`)
        .set(AUTH_A)
        .send(Buffer.from('restored'))
        .expect(204);
      await api().post(`/v1/sessions/${s.id}/persist`).set(AUTH_A).expect(200);
      await pods.get('py-eu-0')?.stop('SIGKILL');
      await startPod({ pool: 'py-eu', pod: 'py-eu-0', region: 'eu' });
      const r = await api().post(`/v1/sessions/${s.id}/executions`).set(AUTH_A).send({ code: 'print(9)' });
      expect({ status: r.status, body: r.body }).toMatchObject({ status: 200, body: { stdout: '9\n' } });
      const file = await api().get(`/v1/sessions/${s.id}/files/r.txt`).set(AUTH_A).expect(200);
      expect(Buffer.from(file.body as Buffer).toString()).toBe('restored');
      expect((await api().get(`/v1/sessions/${s.id}`).set(AUTH_A).expect(200)).body).toMatchObject({
        pod: 'py-eu-0',
        migrations: [],
      });
    });

    it('pod.deleted from the operator moves that pod’s sessions eagerly', async () => {
      await startPod({ pool: 'py-mig', pod: 'py-mig-2', region: 'm' });
      const live = [...pods.keys()].filter((p) => p.startsWith('py-mig-'));
      const s = await create({ region: 'm' });
      await api()
        .put(`/v1/sessions/${s.id}/files/keep.bin`)
        .set(AUTH_A)
        .send(Buffer.from([1, 2, 3]))
        .expect(204);
      await api().post(`/v1/sessions/${s.id}/persist`).set(AUTH_A).expect(200);
      const podEvents = queue(QueueNames.podEvents);
      await podEvents.add(EventJobDefs.podDeleted.name, {
        type: PodEventTypes.deleted,
        pool: 'py-mig',
        pod: s.pod,
        reason: 'scaled down',
        at: new Date().toISOString(),
      });
      await waitFor(
        async () => (await api().get(`/v1/sessions/${s.id}`).set(AUTH_A)).body.migrations?.length === 1,
        15_000,
        () => 'pod.deleted migration',
      );
      const got = (await api().get(`/v1/sessions/${s.id}`).set(AUTH_A).expect(200)).body;
      expect(got.migrations[0]).toMatchObject({ from: s.pod, reason: 'pod_deleted' });
      expect(live.filter((p) => p !== s.pod)).toContain(got.pod);
      const file = await api().get(`/v1/sessions/${s.id}/files/keep.bin`).set(AUTH_A).expect(200);
      expect([...Buffer.from(file.body as Buffer)]).toEqual([1, 2, 3]);
    });
  });

  describe('operator pool registry queue', () => {
    it('registers and deregisters pools from pool-registry jobs and rejects bad payloads', async () => {
      const reg = queue(QueueNames.poolRegistry);
      await reg.add(PoolRegistryJobs.register, {
        name: 'op-pool',
        template: 'python',
        region: 'eu',
        weight: 2,
        managedBy: 'operator',
      });
      await waitFor(
        async () => (await api().get('/v1/pools/op-pool').set(AUTH_A)).status === 200,
        10_000,
        () => 'op-pool registered',
      );
      expect((await api().get('/v1/pools/op-pool').set(AUTH_A)).body).toMatchObject({
        name: 'op-pool',
        weight: 2,
        managedBy: 'operator',
      });
      const bad = await reg.add(PoolRegistryJobs.register, { name: 'Bad Name', template: 42 });
      await waitFor(
        async () => (await bad.getState()) === 'failed',
        10_000,
        () => 'bad registration to fail',
      );
      expect((await reg.getJob(bad.id as string))?.failedReason).toMatch(/^invalid_argument: .*name/);
      await reg.add(PoolRegistryJobs.deregister, { name: 'op-pool' });
      await waitFor(
        async () => (await api().get('/v1/pools/op-pool').set(AUTH_A)).status === 404,
        10_000,
        () => 'op-pool deregistered',
      );
    });
  });
});
