/**
 * Deploys the platform the way k8s/README.md tells a user to (`kubectl apply -k k8s/overlays/dev`
 * with the machine's kubectl), into a fresh executor-system namespace, and creates the pools the
 * suites use. The API is reached from the host through the load balancer's Service (its ClusterIP:
 * the host routes the Service range into the cluster bridge and kube-proxy forwards it), as a
 * user's client on a node would.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Api } from './api';
import {
  NS,
  ROOT,
  apply,
  eventually,
  getJson,
  isReady,
  kubectl,
  poolPods,
  requireCluster,
  type KObj,
} from './kube';

export const STATE_FILE = join(ROOT, 'tmp', 'cluster-e2e', 'state.json');
/** The image tag the dev overlay runs (tools/kcluster/images.sh builds it). */
export const TAG = process.env['CLUSTER_E2E_TAG'] ?? 'dev';
export const REGISTRY = 'ghcr.io/executor-platform';
/** Region of the suites' pools: sessions created with it land there, never on a sample pool. */
export const REGION = 'e2e';

export interface ClusterState {
  baseUrl: string;
  apiKey: string;
  otherKey: string;
  /** The run's admin key (pools, admin UI): the isolation suite's role attacks need one. */
  adminKey: string;
  /** The autoscaling suite's own tenant: its burst fills that tenant's in-flight quota alone. */
  scaleKey: string;
}

export function readState(): ClusterState {
  return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as ClusterState;
}

export function apis(): { api: Api; other: Api; scale: Api; state: ClusterState } {
  const state = readState();
  return {
    api: new Api(state.baseUrl, state.apiKey),
    other: new Api(state.baseUrl, state.otherKey),
    scale: new Api(state.baseUrl, state.scaleKey),
    state,
  };
}

function log(msg: string): void {
  process.stderr.write(`[cluster-e2e ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function namespaceExists(): boolean {
  return getJson(['get', 'namespaces']).items.some((n: KObj) => n.metadata.name === NS);
}

/** Removes what a previous run left: sessions (finalizers dropped: Redis goes too), pools, the namespace. */
function resetNamespace(): void {
  const crds = getJson(['get', 'crd']).items.map((c: KObj) => c.metadata.name as string);
  if (crds.includes('executorsessions.executor.ai-orchestrator.io')) {
    for (const s of getJson(['get', 'executorsessions', '-A']).items)
      kubectl([
        'patch',
        'executorsession',
        '-n',
        s.metadata.namespace,
        s.metadata.name,
        '--type',
        'merge',
        '-p',
        '{"metadata":{"finalizers":null}}',
      ]);
  }
  // The External metrics APIService first: once the operator's pods are gone it has no server, and
  // an unavailable aggregated API makes the namespace controller wait for discovery forever.
  kubectl(['delete', 'apiservice', 'v1beta1.external.metrics.k8s.io', '--ignore-not-found']);
  if (!namespaceExists()) return;
  log(`deleting namespace ${NS} of a previous run`);
  kubectl(['delete', 'namespace', NS, '--wait=false']);
  // Pods (executors: 95 s grace) are killed at once, including those a ReplicaSet makes meanwhile.
  const deadline = Date.now() + 240_000;
  while (namespaceExists()) {
    if (Date.now() > deadline) throw new Error(`namespace ${NS} still there after 240 s`);
    kubectl(['delete', 'pods', '--all', '-n', NS, '--grace-period=0', '--force', '--wait=false']);
    execFileSync('sleep', ['1']);
  }
}

function rollout(kind: string, name: string, timeout = '240s'): void {
  kubectl(['rollout', 'status', '-n', NS, `${kind}/${name}`, `--timeout=${timeout}`], { timeoutMs: 300_000 });
}

export function lbServiceUrl(): string {
  const svc = getJson(['get', 'service', '-n', NS, 'executor-load-balancer']);
  const port = svc.spec.ports.find((p: KObj) => p.name === 'http').port as number;
  return `http://${svc.spec.clusterIP as string}:${port}`;
}

/** The whole platform, fresh, as `kubectl apply -k k8s/overlays/dev` installs it. */
export async function deployPlatform(): Promise<ClusterState> {
  requireCluster();
  const t0 = Date.now();
  resetNamespace();
  // Prerequisite of k8s/README.md: the Prometheus Operator's CRDs (ServiceMonitor, PrometheusRule).
  kubectl(['apply', '-f', join(ROOT, 'k8s/test/fixtures/prometheus-operator-crds.yaml')]);
  kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
  log('kubectl apply -k k8s/overlays/dev');
  // Exactly what a user runs, from the repository root. The CRDs it creates are established a
  // moment after; nothing in the overlay uses them, so one apply is enough.
  const out = execApply();
  log(`applied ${out.split('\n').filter(Boolean).length} objects`);
  for (const [kind, name] of [
    ['statefulset', 'redis'],
    ['deployment', 'executor-persistence'],
    ['deployment', 'executor-operator'],
    ['deployment', 'executor-load-balancer'],
  ] as const)
    rollout(kind, name);
  // Tenant keys of this run (a second tenant for the isolation checks), replacing the overlay's
  // well-known development key: a user rotating the dev Secret does the same.
  const apiKey = randomBytes(32).toString('hex');
  const otherKey = randomBytes(32).toString('hex');
  const adminKey = randomBytes(32).toString('hex');
  const scaleKey = randomBytes(32).toString('hex');
  kubectl([
    'patch',
    'secret',
    '-n',
    NS,
    'executor-api-keys',
    '--type',
    'merge',
    '-p',
    JSON.stringify({
      stringData: {
        EXECUTOR_API_KEYS: `e2e-a:${apiKey},e2e-b:${otherKey},e2e-scale:${scaleKey}`,
        EXECUTOR_ADMIN_KEYS: `e2e-admin:${adminKey}`,
      },
    }),
  ]);
  kubectl(['rollout', 'restart', '-n', NS, 'deployment/executor-load-balancer']);
  rollout('deployment', 'executor-load-balancer');
  const state: ClusterState = { baseUrl: lbServiceUrl(), apiKey, otherKey, adminKey, scaleKey };
  const api = new Api(state.baseUrl, apiKey);
  await eventually(
    async () => ((await api.request('GET', '/v1/pools')).status === 200 ? true : undefined),
    60_000,
    `the API at ${state.baseUrl} (new keys)`,
  );
  mkdirSync(join(ROOT, 'tmp', 'cluster-e2e'), { recursive: true });
  writeFileSync(STATE_FILE, JSON.stringify(state, null, 2));
  log(`platform Ready in ${((Date.now() - t0) / 1000).toFixed(1)} s; API ${state.baseUrl}`);
  return state;
}

function execApply(): string {
  return kubectl(['apply', '-k', 'k8s/overlays/dev'], { timeoutMs: 120_000 }).toString();
}

export interface PoolOptions {
  name: string;
  template: string;
  replicas: number;
  image?: string;
  env?: Record<string, string>;
  maxSessionsPerPod?: number;
}

/** An ExecutorPool for the suites: fixed size (min = max), small requests, region `e2e`. */
export function poolManifest(o: PoolOptions): KObj {
  return {
    apiVersion: 'executor.ai-orchestrator.io/v1',
    kind: 'ExecutorPool',
    metadata: { name: o.name, namespace: NS, labels: { 'app.kubernetes.io/part-of': 'cluster-e2e' } },
    spec: {
      template: o.template,
      minReplicas: o.replicas,
      maxReplicas: o.replicas,
      region: REGION,
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '1Gi' } },
      ...(o.maxSessionsPerPod ? { maxSessionsPerPod: o.maxSessionsPerPod } : {}),
      ...(o.image ? { image: o.image } : {}),
      ...(o.env ? { env: Object.entries(o.env).map(([name, value]) => ({ name, value })) } : {}),
      persistence: { enabled: true, snapshotIntervalSeconds: 60 },
    },
  };
}

/** Waits until the pool has `replicas` Ready pods and the load balancer reports them healthy. */
export async function waitPoolReady(
  api: Api,
  name: string,
  replicas: number,
  timeoutMs = 180_000,
): Promise<void> {
  await eventually(
    () => {
      const pods = poolPods(name);
      return pods.length === replicas && pods.every(isReady) ? true : undefined;
    },
    timeoutMs,
    `${replicas} Ready pods of pool ${name}`,
    500,
  );
  await eventually(
    async () => {
      const r = await api.request<{ items: Array<{ name: string; healthy: boolean; pods: number }> }>(
        'GET',
        '/v1/pools',
      );
      const p = r.body?.items?.find((x) => x.name === name);
      return p && p.healthy && p.pods === replicas ? true : undefined;
    },
    60_000,
    `pool ${name} registered with ${replicas} live pods`,
    250,
  );
}

export { apply };
