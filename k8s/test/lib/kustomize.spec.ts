import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { KustomizeError, kustomizeBuild, parseImage, resourceId } from './kustomize';
import { jsonMergePatch, type JsonObject, PatchError, patchObject, strategicMerge } from './strategic-merge';

let root: string;

function write(files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: old}
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: app
          image: ghcr.io/org/app:1.0
          env: [{name: A, value: "1"}, {name: B, value: "2"}]
          ports: [{containerPort: 80}]
        - name: sidecar
          image: localhost:5000/side
      initContainers:
        - name: init
          image: ghcr.io/org/app@sha256:${'b'.repeat(64)}
`;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kustomize-spec-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('kustomizeBuild', () => {
  it('accumulates files and directories, sets the namespace on namespaced kinds only, and sorts like kustomize', () => {
    write({
      'base/kustomization.yaml': 'resources: [app.yaml, crd.yaml]\nnamespace: prod\n',
      'base/app.yaml': `${DEPLOYMENT}---\napiVersion: v1\nkind: Namespace\nmetadata: {name: prod}\n---\n`,
      'base/crd.yaml':
        'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: xs.example.com}\n',
      'overlay/kustomization.yaml': 'resources: [../base, cm.yaml]\n',
      'overlay/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: other}\n',
    });
    const out = kustomizeBuild(join(root, 'overlay'));
    expect(out.map(resourceId)).toEqual([
      '/Namespace//prod',
      'apiextensions.k8s.io/CustomResourceDefinition//xs.example.com',
      '/ConfigMap/other/c',
      'apps/Deployment/prod/web',
    ]);
  });

  it('rewrites images in containers and initContainers (newName, newTag, digest; registry ports kept apart from tags)', () => {
    write({
      'kustomization.yaml': `resources: [d.yaml]
images:
  - {name: ghcr.io/org/app, newName: registry.local/app, newTag: "2.0"}
  - {name: localhost:5000/side, newTag: dev}
`,
      'd.yaml': DEPLOYMENT,
    });
    const [d] = kustomizeBuild(root);
    const spec = (
      d['spec'] as {
        template: {
          spec: { containers: Array<{ image: string }>; initContainers: Array<{ image: string }> };
        };
      }
    ).template.spec;
    expect(spec.containers.map((c) => c.image)).toEqual([
      'registry.local/app:2.0',
      'localhost:5000/side:dev',
    ]);
    expect(spec.initContainers[0].image).toBe('registry.local/app:2.0');
    expect(parseImage('localhost:5000/x:1@sha256:abc')).toEqual({
      name: 'localhost:5000/x',
      tag: '1',
      digest: 'sha256:abc',
    });
  });

  it('applies strategic merge patches: keyed lists merge, null deletes, $patch: delete removes a resource', () => {
    write({
      'kustomization.yaml':
        'resources: [d.yaml]\npatches:\n  - path: p.yaml\n  - patch: |\n      apiVersion: v1\n      kind: ConfigMap\n      metadata: {name: gone}\n      $patch: delete\n',
      'd.yaml': `${DEPLOYMENT}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: gone}\n`,
      'p.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: null
  template:
    spec:
      containers:
        - name: app
          env: [{name: B, value: "20"}, {name: C, value: "3"}]
        - name: sidecar
          $patch: delete
`,
    });
    const out = kustomizeBuild(root);
    expect(out.map((o) => o.kind)).toEqual(['Deployment']);
    const spec = out[0]['spec'] as Record<string, unknown>;
    expect(spec['replicas']).toBeUndefined();
    const containers = (
      spec['template'] as { spec: { containers: Array<{ name: string; env: unknown; image: string }> } }
    ).spec.containers;
    expect(containers.map((c) => c.name)).toEqual(['app']);
    expect(containers[0].image).toBe('ghcr.io/org/app:1.0');
    // kustomize's order: the patch's elements first (patch order), then the untouched ones.
    expect(containers[0].env).toEqual([
      { name: 'B', value: '20' },
      { name: 'C', value: '3' },
      { name: 'A', value: '1' },
    ]);
  });

  it('generates ConfigMaps and Secrets (literals, files, envs) and merges into an existing ConfigMap', () => {
    write({
      'kustomization.yaml': `resources: [cm.yaml]
generatorOptions: {disableNameSuffixHash: true, labels: {gen: "yes"}}
configMapGenerator:
  - name: settings
    behavior: merge
    literals: [LEVEL=debug]
  - name: files
    files: [dash.json=d.json, other.txt]
secretGenerator:
  - name: keys
    namespace: ns
    literals: ['KEY="a=b"']
    envs: [s.env]
`,
      'cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {LEVEL: info, HOST: h}\n',
      'd.json': '{"a":1}',
      'other.txt': 'x',
      's.env': '# comment\nTOKEN=t0k\n\n',
    });
    const out = kustomizeBuild(root);
    const byName = Object.fromEntries(out.map((o) => [o.metadata.name, o]));
    expect(byName['settings']['data']).toEqual({ LEVEL: 'debug', HOST: 'h' });
    expect(byName['settings'].metadata['labels']).toEqual({ gen: 'yes' });
    expect(byName['files']['data']).toEqual({ 'dash.json': '{"a":1}', 'other.txt': 'x' });
    expect(byName['keys']).toMatchObject({
      kind: 'Secret',
      type: 'Opaque',
      metadata: { namespace: 'ns' },
      data: { KEY: Buffer.from('a=b').toString('base64'), TOKEN: Buffer.from('t0k').toString('base64') },
    });
  });

  it.each([
    ['a file outside the root', 'resources: [../outside.yaml]\n', 'is not in or below'],
    [
      'a field it does not implement',
      'resources: []\ncommonLabels: {a: b}\n',
      'field "commonLabels" is not supported',
    ],
    [
      'a generator with name hashes',
      'configMapGenerator: [{name: x, literals: [A=1]}]\n',
      'name suffix hashes are not implemented',
    ],
    [
      'a JSON 6902 patch',
      'resources: [d.yaml]\npatches: [{target: {kind: Deployment}, patch: "- op: remove\\n  path: /spec"}]\n',
      'JSON 6902',
    ],
    [
      'a patch that matches nothing',
      'resources: [d.yaml]\npatches: [{patch: "apiVersion: v1\\nkind: Service\\nmetadata: {name: nope}"}]\n',
      'no resource matches',
    ],
    [
      'a merge without a base object',
      'generatorOptions: {disableNameSuffixHash: true}\nconfigMapGenerator: [{name: x, behavior: merge, literals: [A=1]}]\n',
      'needs an existing ConfigMap',
    ],
    ['a duplicate resource', 'resources: [d.yaml, d2.yaml]\n', 'already registered id'],
    ['a directory without kustomization', 'resources: [empty]\n', 'no kustomization.yaml'],
  ])('refuses %s', (_what, kustomization, message) => {
    write({
      'k/kustomization.yaml': kustomization,
      'k/d.yaml': DEPLOYMENT,
      'k/d2.yaml': DEPLOYMENT,
      'outside.yaml': DEPLOYMENT,
    });
    mkdirSync(join(root, 'k/empty'));
    expect(() => kustomizeBuild(join(root, 'k'))).toThrow(KustomizeError);
    expect(() => kustomizeBuild(join(root, 'k'))).toThrow(message);
  });

  it('refuses a base that contains the overlay (kustomize cycle rule)', () => {
    write({
      'kustomization.yaml': 'resources: [d.yaml]\n',
      'd.yaml': DEPLOYMENT,
      'overlay/kustomization.yaml': 'resources: [..]\n',
    });
    expect(() => kustomizeBuild(join(root, 'overlay'))).toThrow('cycle detected');
  });
});

describe('strategic merge', () => {
  it('merges Service ports by port and container ports by containerPort', () => {
    const svc = { apiVersion: 'v1', kind: 'Service', spec: { ports: [{ port: 80, name: 'http' }] } };
    expect(
      patchObject(svc, { spec: { ports: [{ port: 80, targetPort: 8080 }, { port: 443 }] } })['spec'],
    ).toEqual({
      ports: [{ port: 80, name: 'http', targetPort: 8080 }, { port: 443 }],
    });
    const pod = { containers: [{ name: 'a', ports: [{ containerPort: 1, name: 'x' }] }] };
    expect(
      strategicMerge(
        pod,
        { containers: [{ name: 'a', ports: [{ containerPort: 1, protocol: 'TCP' }] }] },
        ['spec'],
        'Pod',
      ),
    ).toEqual({
      containers: [{ name: 'a', ports: [{ containerPort: 1, name: 'x', protocol: 'TCP' }] }],
    });
  });

  it('orders a merged keyed list like kustomize: patch elements first, then the untouched ones (as kubectl kustomize v5.5 does)', () => {
    const target: JsonObject = {
      containers: [
        { name: 'app', image: 'a' },
        { name: 'sidecar', image: 's' },
        { name: 'third', image: 't' },
      ],
    };
    const patch: JsonObject = {
      containers: [
        { name: 'third', image: 't2' },
        { name: 'app', env: [{ name: 'D', value: '40' }] },
      ],
    };
    expect(strategicMerge(target, patch, ['spec'], 'Pod')).toEqual({
      containers: [
        { name: 'third', image: 't2' },
        { name: 'app', image: 'a', env: [{ name: 'D', value: '40' }] },
        { name: 'sidecar', image: 's' },
      ],
    });
  });

  it('replaces lists without a merge key, and maps under $patch: replace', () => {
    expect(
      strategicMerge(
        { args: ['a', 'b'], m: { x: 1, y: 2 } },
        { args: ['c'], m: { $patch: 'replace', z: 3 } },
        [],
        'Pod',
      ),
    ).toEqual({
      args: ['c'],
      m: { z: 3 },
    });
  });

  it('uses a JSON merge patch for custom resources (lists replaced)', () => {
    const sm = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      spec: { endpoints: [{ port: 'a' }, { port: 'b' }] },
    };
    expect(patchObject(sm, { spec: { endpoints: [{ port: 'c' }] } })['spec']).toEqual({
      endpoints: [{ port: 'c' }],
    });
    expect(jsonMergePatch({ a: 1, b: 2 }, { a: null })).toEqual({ b: 2 });
  });

  it('rejects directives it does not implement and keyed elements without their key', () => {
    expect(() => strategicMerge({}, { $retainKeys: ['a'] }, [], 'Pod')).toThrow(PatchError);
    expect(() => strategicMerge({ env: [] }, { env: [{ value: 'x' }] }, [], 'Pod')).toThrow(
      'merges by "name"',
    );
  });
});
