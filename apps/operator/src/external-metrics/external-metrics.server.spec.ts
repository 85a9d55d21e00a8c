import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { Queue } from 'bullmq';
import type Redis from 'ioredis';
import { createRedis, podQueueName } from '@executor/queues';
import { startRedis, uniquePrefix, type TestRedis } from '@executor/testing';
import { KubeClient } from '../kube/kube-client';
import type { AccessAttributes, Authorizer, Decision } from './authorizer';
import {
  createCertificateAuthority,
  createServingCertificate,
  issueCertificate,
  serviceDnsNames,
  type CertificateAuthority,
  type ServingCertificate,
} from './certificates';
import { ExternalMetricsServer } from './external-metrics.server';
import { QueueDepthMetrics } from './queue-depth-metrics';
import { requestHeaderConfigFrom } from './request-header-auth';
import type { UserInfo } from './request-header-auth';

const SERVICE = 'executor-external-metrics';
const NS = 'executor-system';
const HOST = `${SERVICE}.${NS}.svc`;
const METRIC = '/apis/external.metrics.k8s.io/v1beta1/namespaces/team-a/executor_pool_queue_depth';

interface Answer {
  status: number;
  body: string;
  json: Record<string, unknown>;
}

/** A scripted Kubernetes API: ExecutorPools and Pods of namespace team-a. */
function fakeKubeApi(state: { pools: string[]; pods: Record<string, string[]> }): HttpServer {
  return createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const poolsPath = '/apis/executor.ai-orchestrator.io/v1/namespaces/team-a/executorpools';
    if (url.pathname === poolsPath) {
      return send(200, {
        items: state.pools.map((name) => ({ metadata: { name, namespace: 'team-a' } })),
        metadata: {},
      });
    }
    if (url.pathname.startsWith(`${poolsPath}/`)) {
      const name = url.pathname.slice(poolsPath.length + 1);
      if (state.pools.includes(name)) return send(200, { metadata: { name, namespace: 'team-a' } });
      return send(404, { kind: 'Status', reason: 'NotFound', message: 'not found' });
    }
    if (url.pathname === '/api/v1/namespaces/team-a/pods') {
      const items = Object.entries(state.pods).flatMap(([pool, pods]) =>
        pods.map((name) => ({
          metadata: { name, namespace: 'team-a', labels: { 'executor.ai-orchestrator.io/pool': pool } },
        })),
      );
      return send(200, { items, metadata: {} });
    }
    send(404, { kind: 'Status', reason: 'NotFound', message: url.pathname });
  });
}

class ScriptedAuthorizer implements Authorizer {
  readonly calls: { user: UserInfo; attrs: AccessAttributes }[] = [];
  constructor(private readonly allowed: string[]) {}
  async authorize(user: UserInfo, attrs: AccessAttributes): Promise<Decision> {
    this.calls.push({ user, attrs });
    return { allowed: this.allowed.includes(user.name), reason: 'scripted' };
  }
}

describe('ExternalMetricsServer (real TLS, real Redis + BullMQ)', () => {
  let redis: TestRedis;
  let conn: Redis;
  let api: HttpServer;
  let server: ExternalMetricsServer;
  let authorizer: ScriptedAuthorizer;
  let servingCa: CertificateAuthority;
  let proxyCa: CertificateAuthority;
  let proxyClient: ServingCertificate;
  let otherCaClient: ServingCertificate;
  let wrongName: ServingCertificate;
  let serverUsageOnly: ServingCertificate;
  let prefix: string;
  const state = {
    pools: ['py', 'node'],
    pods: { py: ['py-a', 'py-b'], node: ['node-a'] } as Record<string, string[]>,
  };

  beforeAll(async () => {
    redis = await startRedis();
    conn = createRedis(redis.url);
    prefix = uniquePrefix('xm');
    api = fakeKubeApi(state);
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [
        { name: 'c', server: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, skipTLSVerify: true },
      ],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    servingCa = await createCertificateAuthority('serving-ca', 10);
    const serving = await createServingCertificate(servingCa, serviceDnsNames(SERVICE, NS), 5);
    proxyCa = await createCertificateAuthority('front-proxy-ca', 10);
    proxyClient = await issueCertificate(proxyCa, { commonName: 'front-proxy-client', usage: 'client' }, 5);
    wrongName = await issueCertificate(proxyCa, { commonName: 'mallory', usage: 'client' }, 5);
    serverUsageOnly = await issueCertificate(
      proxyCa,
      { commonName: 'front-proxy-client', dnsNames: ['x'], usage: 'server' },
      5,
    );
    const otherCa = await createCertificateAuthority('front-proxy-ca', 10); // same name, other key
    otherCaClient = await issueCertificate(otherCa, { commonName: 'front-proxy-client', usage: 'client' }, 5);
    authorizer = new ScriptedAuthorizer(['system:serviceaccount:kube-system:horizontal-pod-autoscaler']);
    server = new ExternalMetricsServer({
      source: new QueueDepthMetrics(new KubeClient(kc), conn, { prefix, watchNamespace: '' }),
      authorizer,
      onRequest: (o) => {
        if (o.code >= 500) process.stderr.write(`500: ${o.reason}\n`);
      },
    });
    await server.listen(
      '127.0.0.1',
      0,
      serving,
      requestHeaderConfigFrom({
        'requestheader-client-ca-file': proxyCa.certPem,
        'requestheader-allowed-names': '["front-proxy-client"]',
        'requestheader-username-headers': '["X-Remote-User"]',
        'requestheader-group-headers': '["X-Remote-Group"]',
        'requestheader-extra-headers-prefix': '["X-Remote-Extra-"]',
      }),
    );
  });

  afterAll(async () => {
    await server?.close();
    await new Promise((r) => api?.close(r));
    conn?.disconnect();
    await redis?.stop();
  });

  function get(
    path: string,
    opts: { client?: ServingCertificate; headers?: Record<string, string | string[]>; method?: string } = {},
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: server.port,
          path,
          method: opts.method ?? 'GET',
          servername: HOST,
          ca: servingCa.certPem,
          ...(opts.client ? { cert: opts.client.certPem, key: opts.client.keyPem } : {}),
          headers: opts.headers,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            let json: Record<string, unknown> = {};
            try {
              json = JSON.parse(body) as Record<string, unknown>;
            } catch {
              /* text */
            }
            resolve({ status: res.statusCode ?? 0, body, json });
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  const HPA = {
    'X-Remote-User': 'system:serviceaccount:kube-system:horizontal-pod-autoscaler',
    'X-Remote-Group': ['system:serviceaccounts', 'system:authenticated'],
  };

  describe('attacks: everything but the aggregator is refused', () => {
    it.each([
      ['no client certificate, spoofed user headers', undefined],
      ['a certificate of another CA (same CA name)', 'otherCa'],
      ['a certificate of the front-proxy CA whose CN is not an allowed name', 'wrongName'],
      ['a front-proxy certificate without the clientAuth usage', 'serverUsage'],
    ] as const)('%s → 401, the source is never read', async (_name, which) => {
      const client = { otherCa: otherCaClient, wrongName, serverUsage: serverUsageOnly }[
        which ?? ('none' as never)
      ] as ServingCertificate | undefined;
      const calls = authorizer.calls.length;
      const r = await get(METRIC, {
        client,
        headers: { 'X-Remote-User': 'system:admin', 'X-Remote-Group': 'system:masters' },
      });
      expect(r.status).toBe(401);
      expect(r.json).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });
      expect(authorizer.calls.length).toBe(calls);
    });

    it('the aggregator without a user header → 401', async () => {
      expect((await get(METRIC, { client: proxyClient })).status).toBe(401);
    });

    it('an authenticated user RBAC does not allow → 403 with the SubjectAccessReview attributes', async () => {
      const r = await get(`${METRIC}?labelSelector=pool%3Dpy`, {
        client: proxyClient,
        headers: { 'X-Remote-User': 'jane', 'X-Remote-Group': 'system:authenticated' },
      });
      expect(r.status).toBe(403);
      expect(r.json['message']).toBe(
        'User "jane" cannot list resource "executor_pool_queue_depth" in API group "external.metrics.k8s.io" in the namespace "team-a"',
      );
      expect(authorizer.calls.at(-1)).toEqual({
        user: { name: 'jane', groups: ['system:authenticated'], extra: {} },
        attrs: {
          kind: 'resource',
          verb: 'list',
          group: 'external.metrics.k8s.io',
          version: 'v1beta1',
          resource: 'executor_pool_queue_depth',
          namespace: 'team-a',
        },
      });
    });
  });

  it('health checks need no certificate', async () => {
    for (const p of ['/healthz', '/livez', '/readyz'])
      expect(await get(p)).toMatchObject({ status: 200, body: 'ok' });
  });

  it('discovery and OpenAPI for an authorised user (non-resource attributes)', async () => {
    const d = await get('/apis/external.metrics.k8s.io/v1beta1', { client: proxyClient, headers: HPA });
    expect(d.status).toBe(200);
    expect(d.json).toEqual({
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: 'external.metrics.k8s.io/v1beta1',
      resources: [
        {
          name: 'executor_pool_queue_depth',
          singularName: '',
          namespaced: true,
          kind: 'ExternalMetricValueList',
          verbs: ['get'],
        },
      ],
    });
    expect(authorizer.calls.at(-1)?.attrs).toEqual({
      kind: 'path',
      verb: 'get',
      path: '/apis/external.metrics.k8s.io/v1beta1',
    });
    const o = await get('/openapi/v2', { client: proxyClient, headers: HPA });
    expect(o.status).toBe(200);
    expect(o.json['swagger']).toBe('2.0');
  });

  it('passes groups and extras (URL-escaped keys) from the headers', async () => {
    await get('/apis/external.metrics.k8s.io/v1beta1', {
      client: proxyClient,
      headers: { ...HPA, 'X-Remote-Extra-Scopes%2Fa': ['x', 'y'] },
    });
    expect(authorizer.calls.at(-1)?.user).toEqual({
      name: 'system:serviceaccount:kube-system:horizontal-pod-autoscaler',
      groups: ['system:serviceaccounts', 'system:authenticated'],
      extra: { 'scopes/a': ['x', 'y'] },
    });
  });

  it('serves the real BullMQ depth of the selected pool, as it changes', async () => {
    const read = async (sel: string): Promise<Record<string, unknown>[]> => {
      const r = await get(`${METRIC}?labelSelector=${encodeURIComponent(sel)}`, {
        client: proxyClient,
        headers: HPA,
      });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({
        kind: 'ExternalMetricValueList',
        apiVersion: 'external.metrics.k8s.io/v1beta1',
      });
      return r.json['items'] as Record<string, unknown>[];
    };
    const value = async (sel: string): Promise<string[]> =>
      (await read(sel)).map((i) => i['value'] as string);
    expect(await read('pool=py')).toEqual([
      {
        metricName: 'executor_pool_queue_depth',
        metricLabels: { pool: 'py' },
        timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        value: '0',
      },
    ]);
    const a = new Queue(podQueueName('py-a'), { connection: conn, prefix });
    const b = new Queue(podQueueName('py-b'), { connection: conn, prefix });
    const n = new Queue(podQueueName('node-a'), { connection: conn, prefix });
    await a.addBulk(Array.from({ length: 7 }, () => ({ name: 'x', data: {} })));
    await b.add('x', {}, { delay: 60_000 });
    await b.add('x', {}, { priority: 2 });
    await n.add('x', {});
    expect(await value('pool=py')).toEqual(['9']);
    expect(await value('pool in (py)')).toEqual(['9']);
    // No selector on pool: one series per pool of the namespace (HPA sums them).
    expect((await read('')).map((i) => [i['metricLabels'], i['value']])).toEqual([
      [{ pool: 'node' }, '1'],
      [{ pool: 'py' }, '9'],
    ]);
    expect(await value('pool!=py')).toEqual(['1']);
    await a.drain(true);
    expect(await value('pool=py')).toEqual(['2']); // py-b's delayed + prioritized jobs
    expect(await value('pool=gone')).toEqual([]);
    await Promise.all([a.close(), b.close(), n.close()]);
  });

  it('404 for another metric, 400 for a bad selector, 405 for writes', async () => {
    const other = await get('/apis/external.metrics.k8s.io/v1beta1/namespaces/team-a/cpu', {
      client: proxyClient,
      headers: HPA,
    });
    expect(other).toMatchObject({ status: 404, json: { reason: 'NotFound' } });
    const bad = await get(`${METRIC}?labelSelector=pool%20in%20x`, { client: proxyClient, headers: HPA });
    expect(bad).toMatchObject({ status: 400, json: { reason: 'BadRequest' } });
    const post = await get(METRIC, { client: proxyClient, headers: HPA, method: 'POST' });
    expect(post.status).toBe(405);
    const unknown = await get('/apis/x', { client: proxyClient, headers: HPA });
    expect(unknown.status).toBe(404);
  });
});
