/**
 * The generated CRDs on a real Kubernetes 1.20 API server (nx run crd:test-k8s): they install, the
 * server stores exactly the CEL-free schema, applies the same defaults as validatePool, rejects the same
 * schema errors, serves the status and scale subresources, and (being 1.20) ignores the CEL rules.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { TEMPLATE_NAMES } from '@executor/templates';
import {
  CRD_NAMES,
  GROUP,
  PLURALS,
  VERSION,
  crdManifests,
  validatePool,
  validateSession,
} from '../src/index';
import { TestKubeApi } from './kube-api';

const SAMPLES = path.resolve(__dirname, '../../../k8s/samples');
const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const NS = 'default';
const POOLS = `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${PLURALS.pool}`;
const SESSIONS = `/apis/${GROUP}/${VERSION}/namespaces/${NS}/${PLURALS.session}`;

type Obj = Record<string, unknown>;
const MERGE = { contentType: 'application/merge-patch+json' };
const established = (crd: Obj): boolean =>
  ((crd['status'] as { conditions?: { type: string; status: string }[] })?.conditions ?? []).some(
    (c) => c.type === 'Established' && c.status === 'True',
  );
const loadSample = (rel: string): Obj => parse(readFileSync(path.join(SAMPLES, rel), 'utf8')) as Obj;
const schemaOf = (crd: Obj): unknown =>
  (crd['spec'] as { versions: { schema: unknown }[] }).versions[0].schema;

let kube: TestKubeApi;

beforeAll(async () => {
  kube = TestKubeApi.start();
  // The full manifest (with CEL rules), straight from the generator.
  for (const crd of crdManifests()) {
    const res = await kube.request('POST', CRDS, crd);
    expect(res.status).toBe(201);
  }
  await Promise.all([CRD_NAMES.pool, CRD_NAMES.session].map((name) => kube.waitFor(CRDS, name, established)));
}, 600_000);

afterAll(() => kube?.stop());

describe('CRDs on Kubernetes 1.20', () => {
  it('stores exactly the CEL-free variant: 1.20 silently drops x-kubernetes-validations and nothing else', async () => {
    const stripped = crdManifests({ targetVersion: '1.20' });
    for (const [i, name] of [CRD_NAMES.pool, CRD_NAMES.session].entries()) {
      const stored = await kube.request('GET', `${CRDS}/${name}`);
      expect(JSON.stringify(stored.body)).not.toContain('x-kubernetes-validations');
      expect(schemaOf(stored.body)).toEqual(schemaOf(stripped[i] as unknown as Obj));
    }
  });

  it.each(TEMPLATE_NAMES.map((t) => [t]))(
    'accepts the %s pool sample and defaults it as validatePool does',
    async (template) => {
      const sample = loadSample(`pools/${template}-pool.yaml`);
      const res = await kube.request('POST', POOLS, sample);
      expect(res.status).toBe(201);
      const local = validatePool(sample);
      if (!local.ok) throw new Error('sample invalid');
      // The server knows nothing of template resources: compare everything else.
      const { resources: _serverResources, ...serverSpec } = res.body['spec'] as Obj;
      const { resources: _localResources, ...localSpec } = local.value.spec;
      expect(serverSpec).toEqual(localSpec);
    },
  );

  it('defaults a minimal pool exactly like validatePool (every schema default)', async () => {
    const minimal = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'ExecutorPool',
      metadata: { name: 'minimal' },
      spec: { template: 'c' },
    };
    const res = await kube.request('POST', POOLS, minimal);
    expect(res.status).toBe(201);
    const local = validatePool(minimal);
    const { resources: _r, ...localSpec } = (local.ok ? local.value.spec : {}) as Obj;
    expect(res.body['spec']).toEqual(localSpec);
  });

  it('accepts the session sample and defaults it as validateSession does', async () => {
    const sample = loadSample('session.yaml');
    const res = await kube.request('POST', SESSIONS, sample);
    expect(res.status).toBe(201);
    const local = validateSession(sample);
    expect(local.ok && res.body['spec']).toEqual(local.ok && local.value.spec);
  });

  it.each<[string, Obj, string]>([
    ['negative minReplicas', { template: 'c', minReplicas: -1 }, 'spec.minReplicas'],
    ['unknown template', { template: 'cobol' }, 'spec.template'],
    ['missing template', { minReplicas: 1 }, 'spec.template'],
    [
      'bad quantity',
      { template: 'c', resources: { limits: { cpu: '12 cores' } } },
      'spec.resources.limits.cpu',
    ],
    ['sessionTTL 0', { template: 'c', sessionTTL: 0 }, 'spec.sessionTTL'],
    ['weight 0', { template: 'c', weight: 0 }, 'spec.weight'],
    ['bad scaling mode', { template: 'c', scaling: { mode: 'keda' } }, 'spec.scaling.mode'],
    [
      'CPU target 150',
      { template: 'c', targetCPUUtilizationPercentage: 150 },
      'spec.targetCPUUtilizationPercentage',
    ],
  ])('rejects %s with 422 on the same field as validatePool', async (_d, spec, field) => {
    const obj = { apiVersion: `${GROUP}/${VERSION}`, kind: 'ExecutorPool', metadata: { name: 'bad' }, spec };
    const res = await kube.request<{ details?: { causes?: { field: string }[] } }>('POST', POOLS, obj);
    expect(res.status).toBe(422);
    expect(res.body.details?.causes?.map((c) => c.field)).toContain(field);
    const local = validatePool(obj);
    expect(local.ok ? [] : local.errors.map((e) => e.field)).toContain(field);
  });

  it('does NOT enforce the CEL rules (minReplicas > maxReplicas is accepted): validatePool must', async () => {
    const obj = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'ExecutorPool',
      metadata: { name: 'min-gt-max' },
      spec: { template: 'c', minReplicas: 5, maxReplicas: 2 },
    };
    expect((await kube.request('POST', POOLS, obj)).status).toBe(201);
    const local = validatePool(obj);
    expect(local.ok ? [] : local.errors.map((e) => e.field)).toEqual(['spec.minReplicas']);
  });

  it('serves the scale subresource from spec.replicas / status.replicas / status.selector', async () => {
    const status = {
      replicas: 2,
      readyReplicas: 2,
      selector: 'executor.ai-orchestrator.io/pool=python-pool',
    };
    const patched = await kube.request('PATCH', `${POOLS}/python-pool/status`, { status }, MERGE);
    expect(patched.status).toBe(200);
    const scaled = await kube.request(
      'PATCH',
      `${POOLS}/python-pool/scale`,
      { spec: { replicas: 4 } },
      MERGE,
    );
    expect(scaled.status).toBe(200);
    const scale = await kube.request('GET', `${POOLS}/python-pool/scale`);
    expect(scale.body).toMatchObject({
      kind: 'Scale',
      spec: { replicas: 4 },
      status: { replicas: 2, selector: status.selector },
    });
    const pool = await kube.request('GET', `${POOLS}/python-pool`);
    expect((pool.body['spec'] as Obj)['replicas']).toBe(4);
  });

  it('validates session status through the status subresource', async () => {
    const name = (loadSample('session.yaml')['metadata'] as { name: string }).name;
    const bad = await kube.request(
      'PATCH',
      `${SESSIONS}/${name}/status`,
      { status: { phase: 'Gone' } },
      MERGE,
    );
    expect(bad.status).toBe(422);
    const good = await kube.request(
      'PATCH',
      `${SESSIONS}/${name}/status`,
      { status: { phase: 'Active', pod: 'p-1', expiresAt: '2026-11-26T07:00:00Z' } },
      MERGE,
    );
    expect(good.status).toBe(200);
  });

  it('prints the columns over the Table API', async () => {
    const res = await kube.request<{ columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] }>(
      'GET',
      `${POOLS}/python-pool`,
      undefined,
      { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
    );
    expect(res.status).toBe(200);
    expect(res.body.columnDefinitions.map((c) => c.name)).toEqual([
      'Name',
      'Template',
      'Min',
      'Max',
      'Replicas',
      'Ready',
      'Queue',
      'Sessions',
      'Region',
      'Mode',
      'Age',
    ]);
    expect(res.body.rows[0].cells.slice(0, 8)).toEqual(['python-pool', 'python', 2, 20, 2, 2, null, null]);
  });
});
