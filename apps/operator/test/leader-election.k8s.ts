import { Logger } from '@nestjs/common';
import { JobRpcClient, createRedis } from '@executor/queues';
import { startRedis, uniquePrefix, type TestRedis } from '@executor/testing';
import type Redis from 'ioredis';
import type { KubeClient } from '../src/kube/kube-client';
import { LeaderElector } from '../src/leader/leader-elector';
import { OperatorMetrics } from '../src/metrics/operator-metrics';
import { OperatorRuntime } from '../src/runtime/operator-runtime';
import { kubeServerForTests, type KubeTestServer } from './kube-server';
import {
  adminClient,
  ensureNamespace,
  eventually,
  installCrds,
  operatorServiceAccountClient,
  poolPath,
  testConfig,
  uniqueName,
} from './k8s-helpers';

interface Replica {
  runtime: OperatorRuntime;
  metrics: OperatorMetrics;
  redis: Redis;
  rpc: JobRpcClient;
  client: KubeClient;
}

describe('leader election (coordination.k8s.io/v1 Lease)', () => {
  let server: KubeTestServer;
  let owned = false;
  let admin: KubeClient;
  let redis: TestRedis;
  const ns = uniqueName('le');
  const prefix = uniquePrefix('le');
  const replicas: Replica[] = [];

  const reconciles = async (r: Replica): Promise<number> =>
    (await r.metrics.reconciles.get()).values.find(
      (v) => v.labels['controller'] === 'pool' && v.labels['result'] === 'success',
    )?.value ?? 0;

  async function replica(name: string): Promise<Replica> {
    const cfg = testConfig({
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      WATCH_NAMESPACE: ns,
      LEASE_NAME: `lease-${ns}`,
      POD_NAME: name,
    });
    const client = await operatorServiceAccountClient(server, admin);
    const r: Replica = {
      metrics: new OperatorMetrics(false),
      redis: createRedis(redis.url),
      rpc: new JobRpcClient({ redisUrl: redis.url, prefix, callerId: name }),
      client,
      runtime: undefined as unknown as OperatorRuntime,
    };
    r.runtime = new OperatorRuntime({ cfg, client, metrics: r.metrics, redis: r.redis, rpc: r.rpc });
    await r.runtime.start();
    replicas.push(r);
    return r;
  }

  beforeAll(async () => {
    Logger.overrideLogger(['error', 'warn']);
    ({ server, owned } = await kubeServerForTests());
    admin = adminClient(server);
    await installCrds(admin);
    await ensureNamespace(admin, ns);
    redis = await startRedis();
  }, 180_000);

  afterAll(async () => {
    for (const r of replicas) {
      await r.runtime.stop();
      await r.rpc.close();
      r.redis.disconnect();
      r.client.close();
    }
    await redis?.stop();
    await admin?.delete(`/api/v1/namespaces/${ns}`).catch(() => undefined);
    admin?.close();
    if (owned) await server.stop();
  });

  it('lets only the leader act, and hands over when the leader stops', async () => {
    const a = await replica('replica-a');
    await eventually(async () => a.runtime.acting, 'replica-a leads');
    const b = await replica('replica-b');
    const lease = await admin.get<{ spec: { holderIdentity: string } }>(
      `/apis/coordination.k8s.io/v1/namespaces/executor-system/leases/lease-${ns}`,
    );
    expect(lease.spec.holderIdentity).toBe('replica-a');

    await admin.create(poolPath(ns), {
      apiVersion: 'executor.ai-orchestrator.io/v1',
      kind: 'ExecutorPool',
      metadata: { name: 'one' },
      spec: { template: 'python' },
    });
    await eventually(() => admin.get(`/apis/apps/v1/namespaces/${ns}/deployments/one`), 'pool one applied');
    await eventually(async () => (await reconciles(a)) > 0, 'replica-a reconciled pool one');
    expect(b.runtime.acting).toBe(false);
    expect(await reconciles(b)).toBe(0);
    expect(await b.metrics.registry.getSingleMetricAsString('operator_leader')).toMatch(/operator_leader 0/);

    await a.runtime.stop(); // releases the lease
    expect(a.runtime.acting).toBe(false);
    await eventually(async () => b.runtime.acting, 'replica-b takes over', 15_000);
    await admin.create(poolPath(ns), {
      apiVersion: 'executor.ai-orchestrator.io/v1',
      kind: 'ExecutorPool',
      metadata: { name: 'two' },
      spec: { template: 'node' },
    });
    const before = await reconciles(a);
    await eventually(
      () => admin.get(`/apis/apps/v1/namespaces/${ns}/deployments/two`),
      'pool two applied by replica-b',
    );
    await eventually(async () => (await reconciles(b)) > 0, 'replica-b reconciled');
    expect(await reconciles(a)).toBe(before);
    const held = await admin.get<{ spec: { holderIdentity: string; leaseTransitions: number } }>(
      `/apis/coordination.k8s.io/v1/namespaces/executor-system/leases/lease-${ns}`,
    );
    expect(held.spec.holderIdentity).toBe('replica-b');
    expect(held.spec.leaseTransitions).toBeGreaterThanOrEqual(1);
  });

  it('never has two replicas acting at once while a third campaigns', async () => {
    const c = await replica('replica-c');
    const samples: number[] = [];
    for (let i = 0; i < 20; i++) {
      samples.push(replicas.filter((r) => r.runtime.acting).length);
      await new Promise((r) => setTimeout(r, 100)); // sampling over time on purpose
    }
    expect(Math.max(...samples)).toBe(1);
    expect(c.runtime.acting).toBe(false);
  });

  it('takes over a lease abandoned without release (a crashed leader) only after it expired', async () => {
    const name = `crash-${ns}`;
    const leading = new Map<string, boolean>();
    const elector = (id: string, releaseOnStop: boolean): LeaderElector =>
      new LeaderElector(
        admin,
        {
          namespace: 'executor-system',
          name,
          identity: id,
          leaseDurationSeconds: 2,
          renewDeadlineMs: 1500,
          retryPeriodMs: 200,
          releaseOnStop,
        },
        {
          onStartedLeading: async () => void leading.set(id, true),
          onStoppedLeading: async () => void leading.set(id, false),
        },
      );
    const first = elector('first', false);
    first.start();
    await eventually(async () => leading.get('first'), 'first leads');
    const second = elector('second', true);
    second.start();
    await first.stop(); // stops renewing, keeps the lease: as if it crashed
    const stoppedAt = Date.now();
    await eventually(async () => leading.get('second'), 'second takes over', 15_000);
    // Not before the lease duration (2 s) passed on second's clock since it last saw the lease change.
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(1500);
    expect(leading.get('first')).toBe(false);
    await second.stop();
    const lease = await admin.get<{ spec: { holderIdentity?: string | null } }>(
      `/apis/coordination.k8s.io/v1/namespaces/executor-system/leases/${name}`,
    );
    expect(lease.spec.holderIdentity ?? '').toBe(''); // released on stop
  });
});
