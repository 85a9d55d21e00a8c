import { randomUUID } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Queue, Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import { PoolConditionReason, PoolConditionType, SessionPhase, type Condition } from '@executor/crd';
import {
  EventJobDefs,
  PersistenceJobDefs,
  QueueNames,
  bullConnection,
  createRedis,
  podQueueName,
  publishReplies,
  sessionExpiryKey,
  type SessionEvent,
} from '@executor/queues';
import { startRedis, uniquePrefix, type TestRedis } from '@executor/testing';
import type { KubeClient, KubeObject } from '../src/kube/kube-client';
import { isApiStatus } from '../src/kube/kube-client';
import { POD_DELETION_COST_ANNOTATION, selectorLabels } from '../src/pools/names';
import { sessionObjectName } from '../src/sessions/session-names';
import { kubeServerForTests, type KubeTestServer } from './kube-server';
import {
  adminClient,
  ensureNamespace,
  eventually,
  installCrds,
  operatorServiceAccountClient,
  poolPath,
  sessionPath,
  startTestOperator,
  testConfig,
  uniqueName,
} from './k8s-helpers';

interface Pool extends KubeObject {
  spec: Record<string, unknown>;
  status?: {
    conditions?: Condition[];
    observedGeneration?: number;
    readyReplicas?: number;
    queueDepth?: number;
    activeSessions?: number;
    replicas?: number;
  };
}
interface Session extends KubeObject {
  spec: { pod?: string; sessionId: string };
  status?: {
    phase?: string;
    pod?: string;
    expiresAt?: string;
    migrations?: { from: string; to: string; at: string; reason: string }[];
  };
}
interface Deployment extends KubeObject {
  spec: {
    replicas?: number;
    template: { spec: { containers: { image: string; env: { name: string; value?: string }[] }[] } };
  };
}

const condition = (p: Pool | undefined, type: string): Condition | undefined =>
  p?.status?.conditions?.find((c) => c.type === type);

describe('operator against kube-apiserver v1.20', () => {
  let server: KubeTestServer;
  let owned = false;
  let admin: KubeClient;
  let saClient: KubeClient;
  let redis: TestRedis;
  let conn: Redis;
  let app: NestFastifyApplication;
  let persistence: Worker;
  let publisher: Redis;
  const deletedState: string[] = [];
  const prefix = uniquePrefix('op');
  const ns = uniqueName('op');
  const queues: Queue[] = [];
  const queue = (name: string): Queue => {
    const q = new Queue(name, { connection: conn, prefix });
    queues.push(q);
    return q;
  };
  const getPool = (name: string): Promise<Pool> => admin.get<Pool>(poolPath(ns, name));
  const createPool = (name: string, spec: Record<string, unknown>): Promise<Pool> =>
    admin.create<Pool>(poolPath(ns), {
      apiVersion: 'executor.ai-orchestrator.io/v1',
      kind: 'ExecutorPool',
      metadata: { name },
      spec,
    });
  const sessionEvent = (type: SessionEvent['type'], over: Partial<SessionEvent>): SessionEvent => ({
    type,
    sessionId: 's1',
    tenant: 't1',
    pool: 'py',
    pod: 'py-pod-a',
    template: 'python',
    persist: true,
    ttlSeconds: 300,
    expiresAt: new Date(Date.now() + 300_000).toISOString(),
    at: new Date().toISOString(),
    ...over,
  });
  const sendSessionEvent = async (ev: SessionEvent): Promise<void> => {
    await queue(QueueNames.sessionEvents).add(ev.type, ev);
  };
  const createPod = async (name: string, pool: string, ready: boolean): Promise<void> => {
    await admin.create(`/api/v1/namespaces/${ns}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: selectorLabels(pool) },
      spec: { containers: [{ name: 'executor', image: 'example.invalid/executor:test' }] },
    });
    if (ready) {
      await admin.mergePatch(`/api/v1/namespaces/${ns}/pods/${name}/status`, {
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
      });
    }
  };
  const metricsText = async (): Promise<string> =>
    (await app.inject({ method: 'GET', url: '/metrics' })).body;

  beforeAll(async () => {
    ({ server, owned } = await kubeServerForTests());
    admin = adminClient(server);
    await installCrds(admin);
    saClient = await operatorServiceAccountClient(server, admin);
    await ensureNamespace(admin, ns);
    redis = await startRedis();
    conn = createRedis(redis.url);
    publisher = createRedis(redis.url);
    // Stand-in for the persistence service: answers state.delete and records it.
    persistence = new Worker(
      QueueNames.persistenceAdmin,
      async (job: Job) => {
        if (job.name === PersistenceJobDefs.delete.name)
          deletedState.push((job.data as { sessionId: string }).sessionId);
        return { deleted: true };
      },
      { connection: bullConnection(redis.url), prefix },
    );
    publishReplies(persistence, publisher, prefix);
    app = await startTestOperator(
      testConfig({
        REDIS_URL: redis.url,
        QUEUE_PREFIX: prefix,
        WATCH_NAMESPACE: ns,
        LEASE_NAME: `lease-${ns}`,
        POD_NAME: 'op-main',
        // The test's Redis has no password: the key deriving the pools' Redis passwords.
        POOL_REDIS_PASSWORD_KEY: 'pool-redis-key-for-tests-0123456789',
      }),
      saClient,
    );
  }, 180_000);

  afterAll(async () => {
    await app?.close();
    await persistence?.close();
    await Promise.all(queues.map((q) => q.close()));
    conn?.disconnect();
    publisher?.disconnect();
    await redis?.stop();
    await admin?.delete(`/api/v1/namespaces/${ns}`).catch(() => undefined);
    admin?.close();
    saClient?.close();
    if (owned) await server.stop();
  });

  it('installs the CRDs from k8s/config/crd; 1.20 drops the CEL rules and the schema rejects bad objects with 422', async () => {
    const crd = await admin.get<{ spec: { versions: { schema: { openAPIV3Schema: unknown } }[] } }>(
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/executorpools.executor.ai-orchestrator.io',
    );
    // 1.20 has no x-kubernetes-validations field: the API server accepts the CRD and silently prunes the rules.
    expect(JSON.stringify(crd.spec.versions[0]?.schema)).not.toContain('x-kubernetes-validations');
    for (const spec of [
      { template: 'cobol' },
      { template: 'python', minReplicas: -1 },
      { template: 'python', maxReplicas: 'ten' },
    ]) {
      const err = await createPool(uniqueName('bad'), spec).catch((e: unknown) => e);
      expect(isApiStatus(err, 422)).toBe(true);
    }
  });

  it('creates every child of a pool with ownerReferences and the seed HPA behaviour (autoscaling/v2beta2)', async () => {
    const pool = await createPool('py', {
      template: 'python',
      minReplicas: 2,
      maxReplicas: 5,
      region: 'eu-west',
      weight: 3,
    });
    const uid = pool.metadata.uid;
    const paths = {
      deployment: `/apis/apps/v1/namespaces/${ns}/deployments/py`,
      service: `/api/v1/namespaces/${ns}/services/py`,
      configMap: `/api/v1/namespaces/${ns}/configmaps/py-config`,
      pdb: `/apis/policy/v1beta1/namespaces/${ns}/poddisruptionbudgets/py`,
      hpa: `/apis/autoscaling/v2beta2/namespaces/${ns}/horizontalpodautoscalers/py`,
    };
    for (const [what, path] of Object.entries(paths)) {
      const obj = await eventually(() => admin.get<KubeObject>(path), what);
      expect(obj.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'ExecutorPool', name: 'py', uid, controller: true }),
      ]);
      expect(
        (obj.metadata as { managedFields?: { manager: string; operation: string }[] }).managedFields,
      ).toContainEqual(expect.objectContaining({ manager: 'executor-operator', operation: 'Apply' }));
    }
    // The pool's own Redis user: a Secret the Deployment's REDIS_URL references, a real ACL user.
    const secret = await eventually(
      () =>
        admin.get<KubeObject & { data: Record<string, string> }>(`/api/v1/namespaces/${ns}/secrets/py-redis`),
      'pool redis secret',
    );
    expect(secret.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'ExecutorPool', uid })]);
    const poolUrl = Buffer.from(secret.data['url'] as string, 'base64').toString();
    expect(poolUrl).toMatch(/^redis:\/\/exec%3Apy:[0-9a-f]{64}@/);
    // The ACL user follows the Secret in the same reconcile.
    const asPool = await eventually(async () => {
      const c = createRedis(poolUrl, { maxRetriesPerRequest: 1, retryStrategy: () => null });
      c.on('error', () => undefined);
      try {
        await c.ping();
        return c;
      } catch (err) {
        c.disconnect();
        throw err;
      }
    }, 'pool redis user');
    try {
      await expect(asPool.llen(`${prefix}:pod-py-5c6d8f9b7d-abcde:wait`)).resolves.toBe(0);
      await expect(asPool.llen(`${prefix}:pod-node-5c6d8f9b7d-abcde:wait`)).rejects.toThrow(/NOPERM/);
      await expect(asPool.keys('*')).rejects.toThrow(/NOPERM/);
    } finally {
      asPool.disconnect();
    }
    const withEnv = await admin.get<{
      spec: {
        template: { spec: { containers: Array<{ env: Array<{ name: string; valueFrom?: unknown }> }> } };
      };
    }>(paths.deployment);
    expect(
      withEnv.spec.template.spec.containers[0]?.env.find((e) => e.name === 'REDIS_URL')?.valueFrom,
    ).toEqual({
      secretKeyRef: { name: 'py-redis', key: 'url' },
    });
    const hpa = await admin.get<{ spec: Record<string, unknown> }>(paths.hpa);
    expect(hpa.spec['minReplicas']).toBe(2);
    expect(hpa.spec['maxReplicas']).toBe(5);
    expect(hpa.spec['behavior']).toEqual({
      scaleUp: {
        stabilizationWindowSeconds: 60,
        selectPolicy: 'Max',
        policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
      },
      scaleDown: {
        stabilizationWindowSeconds: 300,
        selectPolicy: 'Max',
        policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }],
      },
    });
    expect(hpa.spec['metrics']).toContainEqual(
      expect.objectContaining({
        type: 'External',
        external: expect.objectContaining({
          metric: { name: 'executor_pool_queue_depth', selector: { matchLabels: { pool: 'py' } } },
        }),
      }),
    );
    const dep = await admin.get<Deployment>(paths.deployment);
    const c = dep.spec.template.spec.containers[0];
    expect(c?.image).toBe('ghcr.io/executor-platform/executor-python:0.1.0');
    expect(c?.env).toEqual(
      expect.arrayContaining([
        { name: 'POOL_NAME', value: 'py' },
        { name: 'REGION', value: 'eu-west' },
      ]),
    );
    const registered = await eventually(async () => {
      const jobs = await queue(QueueNames.poolRegistry).getJobs(['waiting']);
      return jobs.find(
        (j) => j.name === EventJobDefs.poolRegister.name && (j.data as { name: string }).name === 'py',
      );
    }, 'pool.register job');
    expect(registered.data).toMatchObject({
      name: 'py',
      template: 'python',
      region: 'eu-west',
      weight: 3,
      namespace: ns,
      managedBy: 'executor-operator',
    });
  });

  it('writes status through the status subresource: conditions, readyReplicas, observedGeneration', async () => {
    await createPod('py-pod-a', 'py', true);
    await createPod('py-pod-b', 'py', true);
    const pool = await eventually(async () => {
      const p = await getPool('py');
      return p.status?.readyReplicas === 2 && condition(p, PoolConditionType.Ready)?.status === 'True'
        ? p
        : undefined;
    }, 'pool Ready with 2 ready pods');
    expect(condition(pool, PoolConditionType.Ready)?.reason).toBe(PoolConditionReason.PodsAvailable);
    expect(condition(pool, PoolConditionType.Degraded)).toMatchObject({
      status: 'False',
      reason: PoolConditionReason.AsExpected,
    });
    expect(pool.status?.observedGeneration).toBe(pool.metadata.generation);
  });

  it('leaves Deployment replicas set by the HPA alone while reconciling pool edits', async () => {
    // "The HPA" (kube-controller-manager) scales the Deployment through its scale subresource.
    await admin.request('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/py/scale`, {
      body: { spec: { replicas: 4 } },
      contentType: 'application/merge-patch+json',
      query: { fieldManager: 'kube-controller-manager' },
    });
    await admin.mergePatch(poolPath(ns, 'py'), { spec: { maxReplicas: 6, template: 'python-data' } });
    const hpa = await eventually(async () => {
      const h = await admin.get<{ spec: { maxReplicas: number } }>(
        `/apis/autoscaling/v2beta2/namespaces/${ns}/horizontalpodautoscalers/py`,
      );
      return h.spec.maxReplicas === 6 ? h : undefined;
    }, 'HPA maxReplicas updated to 6');
    expect(hpa.spec.maxReplicas).toBe(6);
    const dep = await eventually(async () => {
      const d = await admin.get<Deployment>(`/apis/apps/v1/namespaces/${ns}/deployments/py`);
      return d.spec.template.spec.containers[0]?.image.includes('executor-python-data') ? d : undefined;
    }, 'Deployment image updated');
    await eventually(
      async () => (await getPool('py')).status?.observedGeneration === 2,
      'generation 2 observed',
    );
    expect(dep.spec.replicas).toBe(4);
    const after = await admin.get<Deployment>(`/apis/apps/v1/namespaces/${ns}/deployments/py`);
    expect(after.spec.replicas).toBe(4);
    const fields =
      (
        after.metadata as {
          managedFields?: {
            manager: string;
            operation: string;
            fieldsV1?: { 'f:spec'?: Record<string, unknown> };
          }[];
        }
      ).managedFields ?? [];
    const ours = fields.find((f) => f.manager === 'executor-operator' && f.operation === 'Apply');
    expect(ours?.fieldsV1?.['f:spec']).not.toHaveProperty('f:replicas');
  });

  it('sets a permanent InvalidSpec condition naming the field, and recovers when the spec is fixed', async () => {
    await createPool('bad', { template: 'python', minReplicas: 5, maxReplicas: 2 }); // a CEL rule: 1.20 lets it in
    const pool = await eventually(async () => {
      const p = await getPool('bad');
      return condition(p, PoolConditionType.Degraded)?.reason === PoolConditionReason.InvalidSpec
        ? p
        : undefined;
    }, 'InvalidSpec condition');
    expect(condition(pool, PoolConditionType.Degraded)?.status).toBe('True');
    expect(condition(pool, PoolConditionType.Degraded)?.message).toMatch(/spec\.minReplicas/);
    expect(condition(pool, PoolConditionType.Ready)).toMatchObject({
      status: 'False',
      reason: PoolConditionReason.InvalidSpec,
    });
    // The condition is written just before the reconcile ends with the PermanentError that is counted.
    await eventually(
      async () =>
        /operator_reconcile_total\{controller="pool",result="permanent_error"\} [1-9]/.test(
          await metricsText(),
        ),
      'permanent_error counted',
    );
    const missing = await admin
      .get(`/apis/apps/v1/namespaces/${ns}/deployments/bad`)
      .catch((e: unknown) => e);
    expect(isApiStatus(missing, 404)).toBe(true);
    await admin.mergePatch(poolPath(ns, 'bad'), { spec: { maxReplicas: 6 } });
    await eventually(
      () => admin.get(`/apis/apps/v1/namespaces/${ns}/deployments/bad`),
      'Deployment of the fixed pool',
    );
    await eventually(
      async () => condition(await getPool('bad'), PoolConditionType.Degraded)?.status === 'False',
      'Degraded cleared',
    );
  });

  it('turns session events into ExecutorSessions; queue depth and pod-deletion-cost follow', async () => {
    await sendSessionEvent(sessionEvent('session.created', { sessionId: 's1' }));
    await sendSessionEvent(sessionEvent('session.created', { sessionId: 'S_Two', persist: false }));
    const s1 = await eventually(async () => {
      const s = await admin.get<Session>(sessionPath(ns, 's1'));
      return s.status?.phase === SessionPhase.Active ? s : undefined;
    }, 'session s1 Active');
    expect(s1.spec).toMatchObject({ sessionId: 's1', pod: 'py-pod-a' });
    expect(s1.metadata.finalizers).toEqual(['executor.ai-orchestrator.io/session-state']);
    await eventually(() => admin.get<Session>(sessionPath(ns, sessionObjectName('S_Two'))), 'session S_Two');
    // An invalid event fails its job without retries.
    const bad = await queue(QueueNames.sessionEvents).add('session.created', { sessionId: '' });
    await eventually(async () => (await bad.getState()) === 'failed', 'invalid event failed');
    expect((await queue(QueueNames.sessionEvents).getJob(bad.id as string))?.failedReason).toMatch(
      /^invalid_argument: invalid payload/,
    );

    const podQueue = queue(podQueueName('py-pod-a'));
    await podQueue.add('session.execute', {});
    await podQueue.add('session.execute', {});
    await podQueue.add('session.execute', {}, { delay: 60_000 });
    await podQueue.add('session.execute', {}, { priority: 5 });
    const pool = await eventually(async () => {
      const p = await getPool('py');
      return p.status?.queueDepth === 4 && p.status.activeSessions === 2 ? p : undefined;
    }, 'status.queueDepth 4, activeSessions 2');
    expect(pool.status?.queueDepth).toBe(4);
    const text = await metricsText();
    expect(text).toContain('executor_pool_queue_depth{pool="py"} 4');
    expect(text).toContain('executor_pod_queue_depth{pool="py",pod="py-pod-a"} 4');
    const pod = await eventually(async () => {
      const p = await admin.get<KubeObject>(`/api/v1/namespaces/${ns}/pods/py-pod-a`);
      return p.metadata.annotations?.[POD_DELETION_COST_ANNOTATION] === '2' ? p : undefined;
    }, 'pod-deletion-cost 2 on py-pod-a');
    expect(pod.metadata.annotations?.[POD_DELETION_COST_ANNOTATION]).toBe('2');
  });

  it('marks the sessions of a deleted pod Migrating, emits pod.deleted, and records the migration', async () => {
    await admin.delete(`/api/v1/namespaces/${ns}/pods/py-pod-a`);
    await eventually(
      async () => (await admin.get<Session>(sessionPath(ns, 's1'))).status?.phase === SessionPhase.Migrating,
      's1 Migrating',
    );
    const event = await eventually(async () => {
      const jobs = await queue(QueueNames.podEvents).getJobs(['waiting']);
      return jobs.find(
        (j) => j.name === EventJobDefs.podDeleted.name && (j.data as { pod: string }).pod === 'py-pod-a',
      );
    }, 'pod.deleted event');
    expect(event.data).toMatchObject({
      type: 'pod.deleted',
      pool: 'py',
      pod: 'py-pod-a',
      reason: 'PodDeleted',
    });
    const at = new Date().toISOString();
    await sendSessionEvent(
      sessionEvent('session.migrated', {
        sessionId: 's1',
        pod: 'py-pod-b',
        migration: { from: 'py-pod-a', to: 'py-pod-b', at, reason: 'PodDeleted' },
      }),
    );
    const s1 = await eventually(async () => {
      const s = await admin.get<Session>(sessionPath(ns, 's1'));
      return s.status?.phase === SessionPhase.Active && s.status.migrations?.length ? s : undefined;
    }, 'migration recorded');
    expect(s1.status?.migrations).toEqual([{ from: 'py-pod-a', to: 'py-pod-b', at, reason: 'PodDeleted' }]);
    expect(s1.status?.pod).toBe('py-pod-b');
    expect(s1.spec.pod).toBe('py-pod-b');
  });

  it("records snapshots and deletes sessions on the load balancer's session.snapshotted / session.deleted", async () => {
    const snapAt = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    await sendSessionEvent(
      sessionEvent('session.snapshotted', { sessionId: 's1', pod: 'py-pod-b', lastSnapshotAt: snapAt }),
    );
    const s1 = await eventually(async () => {
      const s = await admin.get<Session & { status?: { lastSnapshotAt?: string; conditions?: Condition[] } }>(
        sessionPath(ns, 's1'),
      );
      return s.status?.lastSnapshotAt === snapAt ? s : undefined;
    }, 'lastSnapshotAt recorded');
    expect(s1.status?.conditions).toContainEqual(
      expect.objectContaining({ type: 'Persisted', status: 'True', reason: 'SnapshotStored' }),
    );
    await sendSessionEvent(sessionEvent('session.deleted', { sessionId: 'S_Two', persist: false }));
    await eventually(
      async () =>
        isApiStatus(
          await admin.get(sessionPath(ns, sessionObjectName('S_Two'))).catch((e: unknown) => e),
          404,
        ),
      'S_Two deleted',
    );
    expect(deletedState).not.toContain('S_Two'); // not persistent: no finalizer, no state to delete
  });

  it('expires sessions at their TTL and deletes their persisted state through the finalizer', async () => {
    await sendSessionEvent(
      sessionEvent('session.created', {
        sessionId: 'short',
        pod: 'py-pod-b',
        ttlSeconds: 1,
        expiresAt: new Date(Date.now() + 1500).toISOString(),
      }),
    );
    await eventually(() => admin.get<Session>(sessionPath(ns, 'short')), 'session short created');
    await eventually(async () => {
      const err = await admin.get(sessionPath(ns, 'short')).catch((e: unknown) => e);
      return isApiStatus(err, 404);
    }, 'session short gone after its TTL');
    expect(deletedState).toContain('short');
  });

  it('does not expire a session whose lease the load balancer moved forward by use', async () => {
    const lease = Date.now() + 4000;
    await conn.zadd(sessionExpiryKey(prefix), lease, 'kept');
    await sendSessionEvent(
      sessionEvent('session.created', {
        sessionId: 'kept',
        pod: 'py-pod-b',
        ttlSeconds: 1,
        expiresAt: new Date(Date.now() + 500).toISOString(),
      }),
    );
    // Past the event's expiry, the operator follows the lease instead of expiring.
    const moved = await eventually(async () => {
      const x = await admin.get<Session>(sessionPath(ns, 'kept'));
      return x.status?.expiresAt && Date.parse(x.status.expiresAt) === lease ? x : undefined;
    }, 'status.expiresAt follows the lease');
    expect(moved.status?.phase).not.toBe('Expired');
    // The load balancer drops the lease (expired on its side): now it goes.
    await conn.zrem(sessionExpiryKey(prefix), 'kept');
    await eventually(
      async () => isApiStatus(await admin.get(sessionPath(ns, 'kept')).catch((e: unknown) => e), 404),
      'kept gone after its lease',
    );
  });

  it('scales pools with scaling.mode operator itself (no HPA) from queue depth', async () => {
    await createPool('opm', {
      template: 'node',
      minReplicas: 1,
      maxReplicas: 4,
      scaleUpQueueDepthPerPod: 2,
      scaleDownQueueDepthPerPod: 1,
      // No scale-up stabilization (the seed's 60 s would hold the first minute at the current count).
      scaling: { mode: 'operator', behavior: { scaleUp: { stabilizationWindowSeconds: 0 } } },
    });
    await eventually(() => admin.get(`/apis/apps/v1/namespaces/${ns}/deployments/opm`), 'opm Deployment');
    await createPod('opm-pod-a', 'opm', true);
    const q = queue(podQueueName('opm-pod-a'));
    for (let i = 0; i < 20; i++) await q.add('session.execute', {});
    const dep = await eventually(
      async () => {
        const d = await admin.get<Deployment>(`/apis/apps/v1/namespaces/${ns}/deployments/opm`);
        return (d.spec.replicas ?? 0) >= 2 ? d : undefined;
      },
      'opm scaled up',
      30_000,
    );
    expect(dep.spec.replicas).toBeLessThanOrEqual(4);
    expect((await getPool('opm')).spec['replicas']).toBeGreaterThanOrEqual(2);
    const hpa = await admin
      .get(`/apis/autoscaling/v2beta2/namespaces/${ns}/horizontalpodautoscalers/opm`)
      .catch((e: unknown) => e);
    expect(isApiStatus(hpa, 404)).toBe(true);
  });

  it('deletes the HPA when a pool switches to scaling.mode operator', async () => {
    const hpaPath = `/apis/autoscaling/v2beta2/namespaces/${ns}/horizontalpodautoscalers/bad`;
    await eventually(() => admin.get(hpaPath), 'HPA of pool bad');
    await admin.mergePatch(poolPath(ns, 'bad'), { spec: { scaling: { mode: 'operator' } } });
    await eventually(
      async () => isApiStatus(await admin.get(hpaPath).catch((e: unknown) => e), 404),
      'HPA deleted',
    );
  });

  it('garbage-collects the children when a pool is deleted, and deregisters it', async () => {
    // kube-controller-manager's garbage collector learns a CRD's kind only on its discovery resync (every
    // 30 s, not configurable in 1.20); until then it retries owners of that kind with exponential backoff,
    // so how long collection takes depends on where the suite stands in that period (CI once saw > 30 s).
    // Wait for the collector to know ExecutorPool: a ConfigMap owned by an ExecutorPool that does not
    // exist is collected exactly then. After that, collection of a deleted pool's children is immediate.
    const canary = `/api/v1/namespaces/${ns}/configmaps/gc-canary`;
    await admin.create(`/api/v1/namespaces/${ns}/configmaps`, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'gc-canary',
        ownerReferences: [
          {
            apiVersion: 'executor.ai-orchestrator.io/v1',
            kind: 'ExecutorPool',
            name: 'never-created',
            uid: randomUUID(),
          },
        ],
      },
    });
    await eventually(
      async () => isApiStatus(await admin.get(canary).catch((e: unknown) => e), 404),
      'the garbage collector to resolve the ExecutorPool kind',
      90_000,
    );
    await createPool('doomed', { template: 'bash', minReplicas: 1, maxReplicas: 2 });
    await eventually(
      () => admin.get(`/apis/autoscaling/v2beta2/namespaces/${ns}/horizontalpodautoscalers/doomed`),
      'children of pool doomed',
    );
    await admin.delete(poolPath(ns, 'doomed'));
    for (const path of [
      `/apis/apps/v1/namespaces/${ns}/deployments/doomed`,
      `/api/v1/namespaces/${ns}/services/doomed`,
      `/api/v1/namespaces/${ns}/configmaps/doomed-config`,
      `/apis/autoscaling/v2beta2/namespaces/${ns}/horizontalpodautoscalers/doomed`,
    ]) {
      await eventually(
        async () => isApiStatus(await admin.get(path).catch((e: unknown) => e), 404),
        `${path} garbage-collected`,
      );
    }
    await eventually(async () => {
      const jobs = await queue(QueueNames.poolRegistry).getJobs(['waiting']);
      return jobs.some(
        (j) => j.name === EventJobDefs.poolDeregister.name && (j.data as { name: string }).name === 'doomed',
      );
    }, 'pool.deregister job');
  });

  it('survives a watch cut (API server restart) and keeps reconciling', async () => {
    await server.restart();
    await createPool('after-cut', { template: 'bash', minReplicas: 1, maxReplicas: 2 });
    await eventually(
      () => admin.get(`/apis/apps/v1/namespaces/${ns}/deployments/after-cut`),
      'children of a pool created after the cut',
      60_000,
    );
    expect(await metricsText()).toMatch(
      /operator_watch_restarts_total\{resource="executorpools",reason="(error|closed)"\} [1-9]/,
    );
  });
});
