// The install as k8s/README.md describes it, on a real Kubernetes 1.20 cluster: the dev overlay
// applied with the machine's kubectl (global setup), then the sample pools; every workload Ready on
// images built here, the operator's children of each pool, executors registered and serving.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { NS, ROOT, apply, eventually, getJson, isReady, kubectl, poolPods, type KObj } from './support/kube';
import { REGISTRY, TAG, apis, waitPoolReady } from './support/platform';

const SAMPLES = ['python', 'node', 'python-data'];

describe('the dev install and the sample pools', () => {
  const { api } = apis();

  it('runs every platform workload Ready, on images built here (fixed tags, IfNotPresent)', () => {
    const deployments = getJson(['get', 'deployments', '-n', NS]).items.filter(
      (d: KObj) => d.metadata.labels?.['app.kubernetes.io/part-of'] === 'executor-platform',
    );
    expect(deployments.map((d: KObj) => d.metadata.name).sort()).toEqual([
      'executor-load-balancer',
      'executor-operator',
      'executor-persistence',
    ]);
    for (const d of deployments) expect(d.status.readyReplicas).toBe(d.spec.replicas);
    const redis = getJson(['get', 'statefulset', '-n', NS, 'redis']);
    expect(redis.status.readyReplicas).toBe(1);
    const pvc = getJson(['get', 'pvc', '-n', NS, 'data-redis-0']);
    expect(pvc.status.phase).toBe('Bound');
    for (const pod of getJson(['get', 'pods', '-n', NS]).items) {
      if (pod.metadata.labels?.['app.kubernetes.io/part-of'] !== 'executor-platform') continue;
      expect({ pod: pod.metadata.name, ready: isReady(pod) }).toEqual({
        pod: pod.metadata.name,
        ready: true,
      });
      for (const c of pod.spec.containers) {
        expect(c.image).toMatch(new RegExp(`^${REGISTRY.replace(/\./g, '\\.')}/executor-[a-z-]+:${TAG}$`));
        expect(c.imagePullPolicy).toBe('IfNotPresent');
      }
    }
  });

  it('creates each sample pool children (1.20 API versions), runs its executors, registers and routes to them', async () => {
    // The samples as shipped, resized: together they request 2.26 CPUs (python-data 2 x 500m) and
    // this node has 2 cores; everything else is applied as written.
    const pools = SAMPLES.map((t) => {
      const [doc] = parseAllDocuments(readFileSync(join(ROOT, `k8s/samples/pools/${t}-pool.yaml`), 'utf8'));
      const pool = doc.toJS() as KObj;
      pool.spec.resources.requests = { cpu: '100m', memory: '128Mi' };
      return pool;
    });
    apply(pools);
    for (const p of pools) {
      const name = p.metadata.name as string;
      const children = await eventually(
        () => {
          try {
            return {
              deployment: getJson(['get', 'deployment', '-n', NS, name]),
              service: getJson(['get', 'service', '-n', NS, name]),
              configMap: getJson(['get', 'configmap', '-n', NS, `${name}-config`]),
              // the versions Kubernetes 1.20 serves (the operator discovered them)
              hpa: getJson(['get', 'horizontalpodautoscalers.v2beta2.autoscaling', '-n', NS, name]),
              pdb: getJson(['get', 'poddisruptionbudgets.v1beta1.policy', '-n', NS, name]),
            };
          } catch {
            return undefined;
          }
        },
        60_000,
        `the children of pool ${name}`,
        500,
      );
      for (const child of Object.values(children))
        expect(child.metadata.ownerReferences?.[0]).toMatchObject({ kind: 'ExecutorPool', name });
      expect(children.hpa.spec).toMatchObject({ minReplicas: 2, maxReplicas: p.spec.maxReplicas });
      expect(children.deployment.spec.template.spec.containers[0].image).toBe(
        `${REGISTRY}/executor-${p.spec.template as string}:${TAG}`,
      );
    }
    for (const p of pools) await waitPoolReady(api, p.metadata.name, 2, 240_000);
    for (const p of pools) {
      const status = getJson(['get', 'executorpool', '-n', NS, p.metadata.name]).status;
      expect(status.readyReplicas).toBe(2);
    }
    // a session on each (the samples' region), through the load balancer's Service
    const checks: Record<string, [string, string]> = {
      python: ['import sys; print(sys.version_info[0])', '3\n'],
      node: ['console.log(typeof process.versions.node)', 'string\n'],
      'python-data': ['import numpy, pandas; print(int(numpy.arange(4).sum()))', '6\n'],
    };
    for (const template of SAMPLES) {
      const s = await api.createSession({ template, region: 'eu-west-1' });
      expect(s.pool).toBe(`${template}-pool`);
      const [code, stdout] = checks[template];
      const r = await api.execute(s.id, code);
      expect({ template, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr }).toEqual({
        template,
        exitCode: 0,
        stdout,
        stderr: '',
      });
      expect((await api.request('DELETE', `/v1/sessions/${s.id}`)).status).toBe(204);
    }
  });

  it('removes the sample pools with their children (owner references)', async () => {
    kubectl(['delete', 'executorpool', '-n', NS, ...SAMPLES.map((t) => `${t}-pool`), '--wait=true']);
    await eventually(
      () => (SAMPLES.every((t) => poolPods(`${t}-pool`, true).length === 0) ? true : undefined),
      180_000,
      'the sample pools pods to go',
      1000,
    );
    const left = getJson(['get', 'deployments', '-n', NS]).items.map((d: KObj) => d.metadata.name);
    expect(left).not.toEqual(expect.arrayContaining(['python-pool']));
  });
});
