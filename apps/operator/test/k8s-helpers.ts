import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { CRD_FILE } from '@executor/crd';
import { createOperatorApp } from '../src/app/bootstrap';
import { OperatorConfigSchema, type OperatorConfig } from '../src/config/operator-config';
import { loadConfig } from '@executor/platform';
import { KubeClient, isApiStatus, type KubeObject } from '../src/kube/kube-client';
import { EXTERNAL_METRICS_RBAC_FILE } from '../src/rbac/external-metrics-rbac';
import { RBAC_FILE } from '../src/rbac/rbac-manifest';
import type { KubeTestServer } from './kube-server';

const ROOT = join(__dirname, '..', '..', '..');

/** Polls `fn` until it returns a value other than undefined/false (API state is eventually consistent). */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100)); // polling the API server: there is no event to wait on here
  }
}

export const adminClient = (server: KubeTestServer): KubeClient => new KubeClient(server.kc);

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

/** Creates a namespace (idempotent). */
export async function ensureNamespace(admin: KubeClient, name: string): Promise<void> {
  await admin
    .create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } })
    .catch((err: unknown) => {
      if (!isApiStatus(err, 409)) throw err;
    });
}

/** Creates (or keeps) every object of a YAML file with the admin client, by kind. */
export async function createFromYaml(
  admin: KubeClient,
  file: string,
  pathOf: (o: KubeObject) => string,
): Promise<KubeObject[]> {
  const docs = parseAllDocuments(readFileSync(join(ROOT, file), 'utf8'))
    .map((d) => d.toJSON() as KubeObject | null)
    .filter((d): d is KubeObject => !!d);
  for (const d of docs) {
    await admin.create(pathOf(d), d).catch((err: unknown) => {
      if (!isApiStatus(err, 409)) throw err;
    });
  }
  return docs;
}

/** Installs the CRDs of k8s/config/crd (as committed) and waits until they are Established. */
export async function installCrds(admin: KubeClient): Promise<KubeObject[]> {
  const crds = await createFromYaml(
    admin,
    CRD_FILE,
    () => '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
  );
  for (const crd of crds) {
    await eventually(async () => {
      const c = await admin.get<{ status?: { conditions?: { type: string; status: string }[] } }>(
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
      );
      return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
    }, `CRD ${crd.metadata.name} established`);
  }
  return crds;
}

/**
 * Applies the generated RBAC (ServiceAccount executor-operator, ClusterRole, ClusterRoleBinding, and the
 * External metrics API's bindings and roles) and
 * returns a client authenticated as that ServiceAccount: the operator under test has exactly the
 * permissions of rules.ts.
 */
export async function operatorServiceAccountClient(
  server: KubeTestServer,
  admin: KubeClient,
): Promise<KubeClient> {
  await ensureNamespace(admin, 'executor-system');
  for (const file of [RBAC_FILE, EXTERNAL_METRICS_RBAC_FILE]) {
    await createFromYaml(admin, file, (o) => {
      if (o.kind === 'ServiceAccount') return `/api/v1/namespaces/${o.metadata.namespace}/serviceaccounts`;
      const rbac = '/apis/rbac.authorization.k8s.io/v1';
      if (o.kind === 'Role') return `${rbac}/namespaces/${o.metadata.namespace}/roles`;
      if (o.kind === 'RoleBinding') return `${rbac}/namespaces/${o.metadata.namespace}/rolebindings`;
      return `${rbac}/${o.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings'}`;
    });
  }
  // Kubernetes 1.20 creates a token Secret for every ServiceAccount (serviceaccount-token controller).
  const token = await eventually(async () => {
    const list = await admin.list<{
      type: string;
      data?: Record<string, string>;
      metadata: { annotations?: Record<string, string> };
    }>('/api/v1/namespaces/executor-system/secrets');
    const s = list.items.find(
      (x) =>
        x.type === 'kubernetes.io/service-account-token' &&
        x.metadata.annotations?.['kubernetes.io/service-account.name'] === 'executor-operator',
    );
    return s?.data?.['token'] ? Buffer.from(s.data['token'], 'base64').toString('utf8') : undefined;
  }, 'the executor-operator service account token');
  const kc = new k8s.KubeConfig();
  const cluster = server.kc.getCurrentCluster() as k8s.Cluster;
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: cluster.server, caFile: cluster.caFile, caData: cluster.caData }],
    users: [{ name: 'executor-operator', token }],
    contexts: [{ name: 'test', cluster: 'test', user: 'executor-operator' }],
    currentContext: 'test',
  });
  return new KubeClient(kc);
}

/** Operator config for tests: short intervals, the given namespace and Redis. */
export function testConfig(overrides: Partial<Record<keyof OperatorConfig, string>>): OperatorConfig {
  return loadConfig(OperatorConfigSchema, {
    RESYNC_SECONDS: '60',
    QUEUE_DEPTH_INTERVAL_MS: '200',
    STATUS_INTERVAL_SECONDS: '2',
    SCALE_INTERVAL_SECONDS: '1',
    RETRY_BASE_MS: '100',
    RETRY_MAX_MS: '2000',
    WATCH_BACKOFF_MAX_MS: '1000',
    LEASE_DURATION_SECONDS: '3',
    LEASE_RENEW_DEADLINE_MS: '2000',
    LEASE_RETRY_PERIOD_MS: '250',
    PERSISTENCE_TIMEOUT_MS: '3000',
    // Only external-metrics.k8s.ts serves the External metrics API (it sets up its Secret and APIService).
    EXTERNAL_METRICS_ENABLED: 'false',
    // per-pool Redis users (the default) derive each pool's password from it (the test Redis has none)
    POOL_REDIS_PASSWORD_KEY: 'pool-redis-key-for-tests-0123456789',
    ...overrides,
  });
}

/** The operator as `nx serve` runs it (Nest app, not listening), with `client` instead of a kubeconfig. */
export async function startTestOperator(cfg: OperatorConfig, client: KubeClient) {
  const app = await createOperatorApp(cfg, { client, logger: false });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return app;
}

export function poolPath(ns: string, name = ''): string {
  return `/apis/executor.ai-orchestrator.io/v1/namespaces/${ns}/executorpools${name ? `/${name}` : ''}`;
}

export function sessionPath(ns: string, name = ''): string {
  return `/apis/executor.ai-orchestrator.io/v1/namespaces/${ns}/executorsessions${name ? `/${name}` : ''}`;
}
