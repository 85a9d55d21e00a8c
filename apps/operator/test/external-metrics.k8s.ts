/**
 * The operator's External metrics API behind a real kube-apiserver v1.20 aggregation layer
 * (tools/kube/start.sh: --requestheader-* and --proxy-client-* flags): the APIService of
 * k8s/config/deployment/external-metrics.yaml, its empty Secret and the generated RBAC, the operator
 * running as its ServiceAccount. `kubectl get --raw` through the API server returns the real BullMQ
 * depth as it changes; RBAC decides who reads it (SubjectAccessReview); direct calls are refused.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Queue } from 'bullmq';
import type Redis from 'ioredis';
import { parseAllDocuments } from 'yaml';
import { createRedis, podQueueName } from '@executor/queues';
import { startRedis, uniquePrefix, type TestRedis } from '@executor/testing';
import { EXTERNAL_METRICS } from '../src/app/app.module';
import type { ExternalMetricsService } from '../src/external-metrics/external-metrics.service';
import { isApiStatus, type KubeClient, type KubeObject } from '../src/kube/kube-client';
import { LABELS } from '../src/pools/names';
import { kubeServerForTests, type KubeTestServer } from './kube-server';
import {
  adminClient,
  ensureNamespace,
  eventually,
  installCrds,
  operatorServiceAccountClient,
  poolPath,
  startTestOperator,
  testConfig,
  uniqueName,
} from './k8s-helpers';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..');
const MANIFEST = join(ROOT, 'k8s/config/deployment/external-metrics.yaml');
const SYSTEM = 'executor-system';
const APISERVICE = '/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.external.metrics.k8s.io';
const SECRET = `/api/v1/namespaces/${SYSTEM}/secrets/executor-external-metrics-tls`;
const HPA_SA = 'system:serviceaccount:kube-system:horizontal-pod-autoscaler';

interface ApiService extends KubeObject {
  spec: { service: { name: string; namespace: string; port: number }; caBundle?: string };
  status?: { conditions?: { type: string; status: string; message?: string }[] };
}

describe('External metrics API through the kube-apiserver aggregation layer (v1.20)', () => {
  let server: KubeTestServer;
  let owned = false;
  let admin: KubeClient;
  let saClient: KubeClient;
  let redis: TestRedis;
  let conn: Redis;
  let app: NestFastifyApplication;
  let second: NestFastifyApplication | undefined;
  let port: number;
  const prefix = uniquePrefix('xm');
  const ns = uniqueName('xm');
  const pool = 'burst';
  const manifest = parseAllDocuments(readFileSync(MANIFEST, 'utf8')).map((d) => d.toJSON() as KubeObject);
  const kubectl = async (...args: string[]): Promise<{ code: number; out: string }> => {
    try {
      const r = await run('kubectl', args, { env: { ...process.env, KUBECONFIG: server.kubeconfigPath } });
      return { code: 0, out: r.stdout };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  };
  const metricPath = `/apis/external.metrics.k8s.io/v1beta1/namespaces/${ns}/executor_pool_queue_depth?labelSelector=pool%3D${pool}`;
  const depth = async (as?: string): Promise<string[]> => {
    const r = await kubectl('get', '--raw', metricPath, ...(as ? [`--as=${as}`] : []));
    if (r.code !== 0) throw new Error(r.out);
    const list = JSON.parse(r.out) as { kind: string; items: { value: string; metricLabels: unknown }[] };
    expect(list.kind).toBe('ExternalMetricValueList');
    return list.items.map((i) => i.value);
  };

  const startOperator = async (): Promise<NestFastifyApplication> =>
    startTestOperator(
      testConfig({
        REDIS_URL: redis.url,
        QUEUE_PREFIX: prefix,
        WATCH_NAMESPACE: ns,
        LEADER_ELECTION: 'false',
        EXTERNAL_METRICS_ENABLED: 'true',
        EXTERNAL_METRICS_PORT: '0',
        EXTERNAL_METRICS_REFRESH_SECONDS: '1',
        HOST: '127.0.0.1',
      }),
      saClient,
    );
  const serviceOf = (a: NestFastifyApplication): ExternalMetricsService =>
    a.get<ExternalMetricsService>(EXTERNAL_METRICS);

  beforeAll(async () => {
    ({ server, owned } = await kubeServerForTests());
    admin = adminClient(server);
    redis = await startRedis();
    conn = createRedis(redis.url);
    await installCrds(admin);
    await ensureNamespace(admin, ns);
    saClient = await operatorServiceAccountClient(server, admin);
    // The shipped Secret (empty) and APIService; the Service is replaced below (no kube-proxy here).
    for (const o of manifest.filter((x) => x.kind === 'Secret')) {
      await admin.create(`/api/v1/namespaces/${SYSTEM}/secrets`, o).catch((err: unknown) => {
        if (!isApiStatus(err, 409)) throw err;
      });
    }
    app = await startOperator();
    port = serviceOf(app).httpsServer.port;
    expect(serviceOf(app).state).toMatchObject({ serving: true });
    // tools/kube has no pod network: the APIService reaches the operator on this host through an
    // ExternalName Service (the aggregator's ClusterIP resolver dials <externalName>:<APIService port>).
    await admin.create(`/api/v1/namespaces/${SYSTEM}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'executor-external-metrics', namespace: SYSTEM },
      spec: { type: 'ExternalName', externalName: 'localhost', ports: [{ name: 'https', port }] },
    });
    const apiService = manifest.find((x) => x.kind === 'APIService') as ApiService;
    await admin.create('/apis/apiregistration.k8s.io/v1/apiservices', {
      ...apiService,
      spec: { ...apiService.spec, service: { ...apiService.spec.service, port } },
    });
  });

  afterAll(async () => {
    await second?.close();
    await app?.close();
    await admin?.delete(APISERVICE).catch(() => undefined);
    await admin
      ?.delete(`/api/v1/namespaces/${SYSTEM}/services/executor-external-metrics`)
      .catch(() => undefined);
    conn?.disconnect();
    await redis?.stop();
    if (owned) await server?.stop();
  });

  it('fills the shipped Secret, sets the caBundle, and the aggregator finds the APIService Available', async () => {
    const secret = await admin.get<{ data?: Record<string, string> }>(SECRET);
    expect(Object.keys(secret.data ?? {}).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    const ca = secret.data?.['ca.crt'];
    const svc = await eventually(async () => {
      const a = await admin.get<ApiService>(APISERVICE);
      return a.spec.caBundle === ca && a;
    }, 'caBundle written by the operator');
    expect(svc.spec.caBundle).toBe(ca);
    const available = await eventually(
      async () => {
        const a = await admin.get<ApiService>(APISERVICE);
        const c = a.status?.conditions?.find((x) => x.type === 'Available');
        return c?.status === 'True' && c;
      },
      'APIService Available',
      60_000,
    );
    expect(available.status).toBe('True');
    // Available is the aggregator's probe; its proxy handler for the group follows shortly after.
    const discovery = await eventually(async () => {
      const r = await kubectl('get', '--raw', '/apis/external.metrics.k8s.io/v1beta1');
      if (r.code !== 0) throw new Error(r.out);
      return r;
    }, 'discovery through the aggregator');
    expect(JSON.parse(discovery.out)).toMatchObject({
      kind: 'APIResourceList',
      resources: [{ name: 'executor_pool_queue_depth', namespaced: true }],
    });
  });

  it('kubectl get --raw returns the real BullMQ depth of the pool as it changes', async () => {
    await admin.create(poolPath(ns), {
      apiVersion: 'executor.ai-orchestrator.io/v1',
      kind: 'ExecutorPool',
      metadata: { name: pool, namespace: ns },
      spec: { template: 'python', minReplicas: 1, maxReplicas: 4, scaling: { metrics: ['queueDepth'] } },
    });
    // The pool's Deployment → ReplicaSet → Pod (Pending without a kubelet, but named and labelled; one:
    // no HPA controller runs here).
    const [podName] = await eventually(async () => {
      const list = await admin.list<KubeObject>(`/api/v1/namespaces/${ns}/pods`, {
        labelSelector: `${LABELS.pool}=${pool}`,
      });
      return list.items.length === 1 && list.items.map((p) => p.metadata.name);
    }, 'the pool pod');
    // The HPA the operator made scales on the External metric alone (no metrics-server here).
    const hpa = await eventually(
      () =>
        admin
          .get<{ spec: { metrics: { type: string }[] } }>(
            `/apis/autoscaling/v2beta2/namespaces/${ns}/horizontalpodautoscalers/${pool}`,
          )
          .catch(() => undefined),
      'the pool HPA',
    );
    expect(hpa.spec.metrics.map((m) => m.type)).toEqual(['External']);
    expect(await depth()).toEqual(['0']);
    const q = new Queue(podQueueName(podName as string), { connection: conn, prefix });
    await q.addBulk(Array.from({ length: 5 }, () => ({ name: 'x', data: {} })));
    expect(await depth()).toEqual(['5']);
    await q.addBulk(Array.from({ length: 12 }, () => ({ name: 'x', data: {} })));
    await q.add('x', {}, { delay: 60_000 });
    expect(await depth(HPA_SA)).toEqual(['18']); // as the HPA controller reads it (its ClusterRole)
    await q.drain(true);
    expect(await depth()).toEqual(['0']);
    await q.close();
  });

  it('RBAC decides: a user without the reader role is refused through the API server (403)', async () => {
    const r = await kubectl('get', '--raw', metricPath, '--as=jane');
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/Forbidden|forbidden/);
    expect(r.out).toContain('cannot list resource "executor_pool_queue_depth"');
  });

  it('direct calls that did not come through the aggregator are refused (401)', async () => {
    const call = (opts: { headers?: Record<string, string>; cert?: string; key?: string }): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: metricPath,
            rejectUnauthorized: false,
            headers: opts.headers,
            cert: opts.cert,
            key: opts.key,
            agent: false,
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
    expect(await call({})).toBe(401);
    expect(
      await call({ headers: { 'X-Remote-User': 'system:admin', 'X-Remote-Group': 'system:masters' } }),
    ).toBe(401);
    expect(await call({ headers: { Authorization: `Bearer ${server.token}` } })).toBe(401);
    // The API server's own serving certificate is not a front-proxy client certificate either.
    expect(
      await call({
        cert: readFileSync(join(server.runDir, 'pki', 'apiserver.crt'), 'utf8'),
        key: readFileSync(join(server.runDir, 'pki', 'apiserver.key'), 'utf8'),
        headers: { 'X-Remote-User': 'system:admin' },
      }),
    ).toBe(401);
    // The real front-proxy client certificate with a user: this is what the aggregator sends.
    expect(
      await call({
        cert: readFileSync(join(server.runDir, 'pki', 'front-proxy-client.crt'), 'utf8'),
        key: readFileSync(join(server.runDir, 'pki', 'front-proxy-client.key'), 'utf8'),
        headers: { 'X-Remote-User': HPA_SA },
      }),
    ).toBe(200);
  });

  it('a second replica serves with the same certificate (shared Secret, nothing regenerated)', async () => {
    const before = await admin.get<KubeObject & { data: Record<string, string> }>(SECRET);
    second = await startOperator();
    const state = serviceOf(second).state;
    expect(state).toMatchObject({ serving: true });
    const peer = await new Promise<string>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: state.port, path: '/healthz', rejectUnauthorized: false, agent: false },
        (res) => {
          const cert = (res.socket as import('node:tls').TLSSocket).getPeerCertificate(true);
          res.resume();
          resolve(cert.raw.toString('base64'));
        },
      );
      req.on('error', reject);
      req.end();
    });
    const after = await admin.get<KubeObject & { data: Record<string, string> }>(SECRET);
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    const pemBody = Buffer.from(after.data['tls.crt'] as string, 'base64')
      .toString('utf8')
      .replace(/-----[^-]+-----/g, '')
      .replace(/\s+/g, '');
    expect(peer).toBe(pemBody);
  });
});
