/**
 * Every object of the dev overlay (kustomize-built) against a real kube-apiserver v1.20.2:
 * server-side dry run (`?dryRun=All`: validation, defaulting, admission; nothing stored) with zero
 * errors, and no field silently dropped by the server. The Namespace, the CRDs and the minimal
 * Prometheus Operator CRDs are created for real first (namespaced objects and custom resources
 * cannot be validated without them). Then the samples (k8s/samples) as custom resources.
 */
import { readFileSync } from 'node:fs';
import { TEMPLATE_NAMES } from '@executor/templates';
import { join } from 'node:path';
import { kustomizeBuild } from './lib/kustomize';
import { type Json, type KObject, parseObjects } from './lib/objects';
import { KubeClient } from './lib/kube';
import { createObject, Discovery, droppedFields, waitForCrds } from './lib/apply';
import { K8S_DIR, OVERLAYS } from './lib/paths';

/**
 * Manifest apiVersions this server (1.20) does not serve, and the served version of the same group
 * their objects are validated as instead (same schema for the fields used): policy/v1 arrived in
 * 1.21. Anything else not served fails the test.
 */
const EXPECTED_FALLBACKS: Readonly<Record<string, string>> = {
  'policy/v1 PodDisruptionBudget': 'policy/v1beta1',
};
/** Field names newer than the test server (dropped by it, not by a mistake of ours). */
const NEWER_THAN_SERVER = new Set(['x-kubernetes-validations']);

const REAL_FIRST = new Set(['Namespace', 'CustomResourceDefinition']);

function describeObject(o: KObject): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

function kubeconfig(): string {
  const path = process.env['K8S_TEST_KUBECONFIG'];
  if (!path) throw new Error('K8S_TEST_KUBECONFIG is not set (run with nx run k8s:test-k8s)');
  return path;
}

describe('dev overlay on a real kube-apiserver (server-side dry run)', () => {
  let client: KubeClient;
  let discovery: Discovery;
  let objects: KObject[];

  beforeAll(async () => {
    client = KubeClient.fromKubeconfig(kubeconfig());
    discovery = new Discovery(client);
    objects = kustomizeBuild(OVERLAYS.dev);
    const monitoringCrds = parseObjects(
      readFileSync(join(__dirname, 'fixtures/prometheus-operator-crds.yaml'), 'utf8'),
      'prometheus-operator-crds.yaml',
    );
    for (const crd of monitoringCrds) {
      const res = await createObject(client, discovery, crd, false);
      expect([201, 409]).toContain(res.status);
    }
    await waitForCrds(
      client,
      monitoringCrds.map((c) => c.metadata.name),
    );
    discovery.reset();
  });

  it('creates the Namespace and the CRDs (dry run first, then for real)', async () => {
    const first = objects.filter((o) => REAL_FIRST.has(o.kind));
    expect(first.map((o) => o.kind)).toEqual(
      expect.arrayContaining(['Namespace', 'CustomResourceDefinition']),
    );
    const failures: string[] = [];
    for (const o of first) {
      const dry = await createObject(client, discovery, o, true);
      if (dry.status !== 201 && dry.status !== 409)
        failures.push(`${describeObject(o)}: ${dry.status} ${String(dry.body['message'])}`);
      const dropped = dry.status === 201 ? droppedFields(o as Json, dry.body as Json, NEWER_THAN_SERVER) : [];
      if (dropped.length > 0)
        failures.push(`${describeObject(o)}: fields dropped by the server: ${dropped.join(', ')}`);
      const real = await createObject(client, discovery, o, false);
      if (real.status !== 201 && real.status !== 409)
        failures.push(`${describeObject(o)} (real): ${real.status} ${String(real.body['message'])}`);
    }
    expect(failures).toEqual([]);
    const crds = first.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name);
    await waitForCrds(client, crds);
    discovery.reset();
  });

  it('accepts every other object with zero errors and keeps every field', async () => {
    const failures: string[] = [];
    const fallbacks: string[] = [];
    const rest = objects.filter((o) => !REAL_FIRST.has(o.kind));
    expect(rest.length).toBeGreaterThan(30);
    for (const o of rest) {
      const res = await createObject(client, discovery, o, true);
      if (res.resolved?.fallbackFrom) {
        const key = `${o.apiVersion} ${o.kind}`;
        if (EXPECTED_FALLBACKS[key] !== res.resolved.apiVersion)
          failures.push(`${describeObject(o)}: ${key} is not served`);
        fallbacks.push(key);
      }
      if (res.status !== 201) {
        failures.push(`${describeObject(o)}: HTTP ${res.status} ${String(res.body['message'])}`);
        continue;
      }
      const sent = { ...o, apiVersion: res.resolved?.apiVersion ?? o.apiVersion } as Json;
      const dropped = droppedFields(sent, res.body as Json, NEWER_THAN_SERVER);
      if (dropped.length > 0)
        failures.push(`${describeObject(o)}: fields dropped by the server: ${dropped.join(', ')}`);
    }
    expect(failures).toEqual([]);
    // On 1.20 the PDBs are the only objects validated through another version (none on >= 1.21).
    for (const key of fallbacks) expect(Object.keys(EXPECTED_FALLBACKS)).toContain(key);
  });

  it('reports what the server rejects or drops (the check can fail)', async () => {
    const deployment = objects.find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'executor-load-balancer',
    );
    expect(deployment).toBeDefined();
    const invalid = structuredClone(deployment as KObject);
    (invalid['spec'] as Record<string, Json>)['replicas'] = -1;
    const rejected = await createObject(client, discovery, invalid, true);
    expect(rejected.status).toBe(422);
    expect(String(rejected.body['message'])).toContain('spec.replicas');

    const misspelt = structuredClone(deployment as KObject);
    (misspelt['spec'] as Record<string, Json>)['replicaz'] = 3;
    const accepted = await createObject(client, discovery, misspelt, true);
    expect(accepted.status).toBe(201);
    expect(droppedFields(misspelt as Json, accepted.body as Json)).toEqual(['spec.replicaz']);

    const monitor = objects.find((o) => o.kind === 'ServiceMonitor') as KObject;
    const badMonitor = structuredClone(monitor);
    (badMonitor['spec'] as { endpoints: Array<Record<string, Json>> }).endpoints[0]['interval'] =
      '15 seconds';
    const badRes = await createObject(client, discovery, badMonitor, true);
    expect(badRes.status).toBe(422);
  });

  it('accepts the samples: one ExecutorPool per template and an ExecutorSession', async () => {
    const pools = kustomizeBuild(join(K8S_DIR, 'samples/pools'));
    const session = parseObjects(readFileSync(join(K8S_DIR, 'samples/session.yaml'), 'utf8'), 'session.yaml');
    const templates = pools.map((p) => (p['spec'] as { template: string }).template).sort();
    expect(templates).toEqual([...TEMPLATE_NAMES].sort()); // one sample pool per template

    expect(session.map((s) => s.kind)).toEqual(['ExecutorSession']);
    const failures: string[] = [];
    for (const o of [...pools, ...session]) {
      const namespaced: KObject = {
        ...o,
        metadata: { ...o.metadata, namespace: o.metadata.namespace ?? 'executor-system' },
      };
      const res = await createObject(client, discovery, namespaced, true);
      if (res.status !== 201)
        failures.push(`${describeObject(namespaced)}: HTTP ${res.status} ${String(res.body['message'])}`);
      else {
        const dropped = droppedFields(namespaced as Json, res.body as Json);
        if (dropped.length > 0) failures.push(`${describeObject(namespaced)}: dropped ${dropped.join(', ')}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
