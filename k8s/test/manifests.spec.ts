/**
 * Policies every built overlay (dev, prod) must satisfy: what the install creates, resources and
 * security contexts everywhere, probes, references that resolve, selectors that select, the
 * platform's topology (operator ×1 with leader election, load balancer ×2+ behind a LoadBalancer
 * Service with a PDB and spread, Redis with AOF/noeviction/password/PVC), NetworkPolicies, images.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { crdManifests } from '@executor/crd';
import { kustomizeBuild } from './lib/kustomize';
import { type KObject, parseObjects, resourceId } from './lib/objects';
import { DEPLOYMENT_DIR, K8S_DIR, OPERATOR_RBAC_FILE, OVERLAYS } from './lib/paths';

type Obj = Record<string, unknown>;
interface Container {
  name: string;
  image: string;
  env?: Array<{ name: string; value?: string; valueFrom?: Obj }>;
  envFrom?: Obj[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Obj;
  readinessProbe?: Obj;
  livenessProbe?: Obj;
  ports?: Array<{ name?: string; containerPort: number }>;
}
interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Obj;
  containers: Container[];
  initContainers?: Container[];
  volumes?: Obj[];
  topologySpreadConstraints?: Array<{
    topologyKey: string;
    whenUnsatisfiable: string;
    labelSelector: { matchLabels: Record<string, string> };
  }>;
}

const NAMESPACE = 'executor-system';
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);
const builds = { dev: kustomizeBuild(OVERLAYS.dev), prod: kustomizeBuild(OVERLAYS.prod) };

const find = (objs: KObject[], kind: string, name: string): KObject => {
  const o = objs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind} ${name} is missing`);
  return o;
};
const podSpec = (o: KObject): PodSpec => ((o['spec'] as Obj)['template'] as { spec: PodSpec }).spec;
const podLabels = (o: KObject): Record<string, string> =>
  ((o['spec'] as Obj)['template'] as { metadata: { labels: Record<string, string> } }).metadata.labels;
const containersOf = (o: KObject): Container[] => [
  ...podSpec(o).containers,
  ...(podSpec(o).initContainers ?? []),
];
const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Parses a Kubernetes quantity into a number (cores / bytes). */
function quantity(q: string): number {
  const m = /^([0-9.]+)(m|Ki|Mi|Gi|Ti|k|M|G)?$/.exec(q);
  if (!m) throw new Error(`bad quantity ${q}`);
  const factor: Record<string, number> = {
    m: 1e-3,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    k: 1e3,
    M: 1e6,
    G: 1e9,
  };
  return Number(m[1]) * (m[2] ? factor[m[2]] : 1);
}

describe.each(Object.entries(builds))('%s overlay', (overlay, objects) => {
  const workloads = objects.filter((o) => WORKLOADS.has(o.kind));
  const byId = (kind: string, name: string): KObject => find(objects, kind, name);

  it('creates the resources of the feature summary', () => {
    const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(ids).toEqual(
      expect.arrayContaining([
        `Namespace/${NAMESPACE}`,
        'CustomResourceDefinition/executorpools.executor.ai-orchestrator.io',
        'CustomResourceDefinition/executorsessions.executor.ai-orchestrator.io',
        'Deployment/executor-operator',
        'Deployment/executor-load-balancer',
        'Deployment/executor-persistence',
        'StatefulSet/redis',
        'Service/executor-load-balancer',
        'Service/redis',
        'ServiceAccount/executor-operator',
        'ClusterRole/executor-operator',
        'ClusterRoleBinding/executor-operator',
        'PrometheusRule/executor-platform',
        'ConfigMap/executor-grafana-dashboard',
        'ConfigMap/executor-prometheus-adapter',
      ]),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('puts every namespaced object into executor-system', () => {
    const elsewhere = objects.filter(
      (o) => o.metadata.namespace !== undefined && o.metadata.namespace !== NAMESPACE,
    );
    // Except the binding to kube-system's extension-apiserver-authentication-reader Role (the External
    // metrics API reads the aggregator's client CA there; a RoleBinding lives in its Role's namespace).
    expect(elsewhere.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'RoleBinding/kube-system/executor-operator-auth-reader',
    ]);
  });

  it('sets requests and limits (cpu, memory) on every container, limits >= requests', () => {
    const problems: string[] = [];
    for (const w of workloads) {
      for (const c of containersOf(w)) {
        for (const r of ['cpu', 'memory']) {
          const req = c.resources?.requests?.[r];
          const lim = c.resources?.limits?.[r];
          if (!req || !lim) problems.push(`${w.metadata.name}/${c.name}: ${r} request or limit missing`);
          else if (quantity(lim) < quantity(req))
            problems.push(`${w.metadata.name}/${c.name}: ${r} limit < request`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('runs every pod non-root with RuntimeDefault seccomp and every container locked down', () => {
    const problems: string[] = [];
    for (const w of workloads) {
      const pod = podSpec(w);
      const psc = pod.securityContext ?? {};
      if (psc['runAsNonRoot'] !== true || !(Number(psc['runAsUser']) > 0))
        problems.push(`${w.metadata.name}: pod not runAsNonRoot with a uid`);
      if ((psc['seccompProfile'] as Obj | undefined)?.['type'] !== 'RuntimeDefault')
        problems.push(`${w.metadata.name}: seccomp`);
      for (const c of containersOf(w)) {
        const sc = c.securityContext ?? {};
        const where = `${w.metadata.name}/${c.name}`;
        if (sc['allowPrivilegeEscalation'] !== false) problems.push(`${where}: allowPrivilegeEscalation`);
        if (sc['readOnlyRootFilesystem'] !== true) problems.push(`${where}: readOnlyRootFilesystem`);
        if (sc['privileged'] === true) problems.push(`${where}: privileged`);
        if (JSON.stringify((sc['capabilities'] as Obj | undefined)?.['drop']) !== '["ALL"]')
          problems.push(`${where}: capabilities not dropped`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('gives every container liveness and readiness probes', () => {
    const missing = workloads.flatMap((w) =>
      podSpec(w)
        .containers.filter((c) => !c.livenessProbe || !c.readinessProbe)
        .map((c) => `${w.metadata.name}/${c.name}`),
    );
    expect(missing).toEqual([]);
  });

  it('uses pinned images: no latest, platform images from the default registry with the overlay tag (dev: every image)', () => {
    const tag = overlay === 'dev' ? 'dev' : '0.1.0';
    for (const w of workloads) {
      for (const c of containersOf(w)) {
        expect(c.image).toMatch(/:[A-Za-z0-9_][A-Za-z0-9_.-]*$/);
        expect(c.image).not.toMatch(/:latest$/);
        if (overlay === 'dev') expect(c.image).toMatch(/^ghcr\.io\/executor-platform\//);
        if (c.image.includes('executor-platform/')) {
          const name =
            w.metadata.name.replace(/^executor-/, '') + (c.name === 'redis-exporter' ? '-exporter' : '');
          expect(c.image).toBe(`ghcr.io/executor-platform/executor-${name}:${tag}`);
        }
      }
    }
  });

  it('ships the CRDs libs/crd generates: dev its 1.20 target (no CEL), prod the latest', () => {
    const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
    const expected = crdManifests({ targetVersion: overlay === 'dev' ? '1.20' : 'latest' });
    const strip = (o: unknown): unknown => JSON.parse(JSON.stringify(o));
    expect(crds.map((c) => c.metadata.name).sort()).toEqual(expected.map((c) => c.metadata.name).sort());
    for (const crd of crds) {
      const want = expected.find((e) => e.metadata.name === crd.metadata.name);
      expect(strip(crd['spec'])).toEqual(strip(want?.spec));
    }
    expect(JSON.stringify(crds).includes('x-kubernetes-validations')).toBe(overlay === 'prod');
  });

  it('holds no object whose API version depends on the cluster version (dev: 1.20 to current)', () => {
    const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget').map((o) => o.metadata.name);
    expect(pdbs).toEqual(overlay === 'dev' ? [] : expect.arrayContaining(['executor-load-balancer']));
    expect(objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')).toEqual([]);
  });

  it('resolves every ServiceAccount, ConfigMap and Secret reference (prod: only the two documented Secrets are external)', () => {
    const have = (kind: string, name: string): boolean =>
      objects.some((o) => o.kind === kind && o.metadata.name === name);
    const missing = new Set<string>();
    for (const w of workloads) {
      const pod = podSpec(w);
      if (!have('ServiceAccount', pod.serviceAccountName ?? 'default'))
        missing.add(`ServiceAccount/${pod.serviceAccountName}`);
      for (const c of containersOf(w)) {
        for (const e of c.env ?? []) {
          const ref = (e.valueFrom?.['secretKeyRef'] ?? e.valueFrom?.['configMapKeyRef']) as
            { name: string; key: string } | undefined;
          const kind = e.valueFrom?.['secretKeyRef'] ? 'Secret' : 'ConfigMap';
          if (!ref) continue;
          const target = objects.find((o) => o.kind === kind && o.metadata.name === ref.name);
          if (!target) missing.add(`${kind}/${ref.name}`);
          else if (!(ref.key in ((target['data'] ?? target['stringData'] ?? {}) as Obj)))
            missing.add(`${kind}/${ref.name}:${ref.key}`);
        }
        for (const ef of c.envFrom ?? []) {
          const cm = ef['configMapRef'] as { name: string } | undefined;
          if (cm && !have('ConfigMap', cm.name)) missing.add(`ConfigMap/${cm.name}`);
        }
      }
      for (const v of pod.volumes ?? []) {
        const cm = v['configMap'] as { name: string } | undefined;
        if (cm && !have('ConfigMap', cm.name)) missing.add(`ConfigMap/${cm.name}`);
      }
    }
    expect([...missing].sort()).toEqual(
      overlay === 'dev' ? [] : ['Secret/executor-api-keys', 'Secret/redis-auth'],
    );
  });

  it('mounts no ServiceAccount token except into the operator', () => {
    const mounting = workloads
      .filter((w) => podSpec(w).automountServiceAccountToken !== false)
      .map((w) => w.metadata.name);
    expect(mounting).toEqual(['executor-operator']);
    for (const sa of objects.filter(
      (o) => o.kind === 'ServiceAccount' && o.metadata.name !== 'executor-operator',
    )) {
      expect({ sa: sa.metadata.name, automount: sa['automountServiceAccountToken'] }).toEqual({
        sa: sa.metadata.name,
        automount: false,
      });
    }
  });

  it('has Services, PDBs and workload selectors that select pods with the named ports', () => {
    for (const w of workloads) {
      const selector = ((w['spec'] as Obj)['selector'] as { matchLabels: Record<string, string> })
        .matchLabels;
      expect(selects(selector, podLabels(w))).toBe(true);
    }
    for (const svc of objects.filter((o) => o.kind === 'Service')) {
      const spec = svc['spec'] as {
        selector: Record<string, string>;
        ports: Array<{ targetPort: string | number }>;
      };
      const backing = workloads.filter((w) => selects(spec.selector, podLabels(w)));
      expect({ svc: svc.metadata.name, backing: backing.length }).toEqual({
        svc: svc.metadata.name,
        backing: 1,
      });
      const portNames = containersOf(backing[0]).flatMap((c) => (c.ports ?? []).map((p) => p.name));
      for (const p of spec.ports) expect(portNames).toContain(p.targetPort);
    }
    for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
      const sel = ((pdb['spec'] as Obj)['selector'] as { matchLabels: Record<string, string> }).matchLabels;
      expect(workloads.filter((w) => selects(sel, podLabels(w)))).toHaveLength(1);
    }
  });

  it('runs one operator with leader election and the operator ServiceAccount', () => {
    const op = byId('Deployment', 'executor-operator');
    expect((op['spec'] as Obj)['replicas']).toBe(1);
    const env = podSpec(op).containers[0].env ?? [];
    expect(env.find((e) => e.name === 'LEADER_ELECTION')?.value).toBe('true');
    expect(podSpec(op).serviceAccountName).toBe('executor-operator');
  });

  it('runs 2+ load balancers behind a LoadBalancer Service, ready on /health/ready, with a PDB and spread over nodes', () => {
    const lb = byId('Deployment', 'executor-load-balancer');
    const replicas = (lb['spec'] as Obj)['replicas'] as number;
    expect(replicas).toBeGreaterThanOrEqual(overlay === 'prod' ? 3 : 2);
    expect((byId('Service', 'executor-load-balancer')['spec'] as Obj)['type']).toBe('LoadBalancer');
    const c = podSpec(lb).containers[0];
    expect(c.readinessProbe).toMatchObject({ httpGet: { path: '/health/ready', port: 'http' } });
    if (overlay === 'prod') {
      const minAvailable = (byId('PodDisruptionBudget', 'executor-load-balancer')['spec'] as Obj)[
        'minAvailable'
      ] as number;
      expect(minAvailable).toBeGreaterThanOrEqual(1);
      expect(minAvailable).toBeLessThan(replicas);
    }
    expect(podSpec(lb).topologySpreadConstraints?.map((t) => t.topologyKey)).toEqual([
      'kubernetes.io/hostname',
      'topology.kubernetes.io/zone',
    ]);
    expect(c.env?.find((e) => e.name === 'EXECUTOR_API_KEYS')?.valueFrom).toEqual({
      secretKeyRef: { name: 'executor-api-keys', key: 'EXECUTOR_API_KEYS' },
    });
  });

  it('runs Redis as a StatefulSet with a PVC, AOF, noeviction and ACL users (passwords from a Secret, no anonymous access)', () => {
    const redis = byId('StatefulSet', 'redis');
    const spec = redis['spec'] as {
      volumeClaimTemplates: Array<{
        metadata: { name: string };
        spec: { resources: { requests: { storage: string } } };
      }>;
    };
    expect(spec.volumeClaimTemplates.map((v) => v.metadata.name)).toEqual(['data']);
    expect(quantity(spec.volumeClaimTemplates[0].spec.resources.requests.storage)).toBeGreaterThanOrEqual(
      2 ** 30,
    );
    const conf = (byId('ConfigMap', 'redis-config')['data'] as Record<string, string>)['redis.conf'];
    expect(conf).toMatch(/^appendonly yes$/m);
    expect(conf).toMatch(/^maxmemory-policy noeviction$/m);
    expect(conf).toMatch(/^aclfile \/run\/redis-acl\/users\.acl$/m);
    const c = podSpec(redis).containers.find((x) => x.name === 'redis') as Container & { args: string[] };
    expect(c.args).not.toContain('--requirepass');
    // The ACL template (generated from libs/queues acl.ts) has every user; default is off.
    const template = (byId('ConfigMap', 'redis-acl')['data'] as Record<string, string>)['users.acl.template'];
    expect(template.split('\n')[0]).toMatch(/^user default off /);
    const render = (podSpec(redis).initContainers ?? []).find((x) => x.name === 'render-acl') as Container & {
      envFrom: Obj[];
    };
    expect(render.envFrom).toEqual([{ secretRef: { name: 'redis-auth' } }]);
    for (const v of template.match(/\$\{[A-Z_]+\}/g) ?? [])
      expect(JSON.stringify(render)).toContain(v.slice(2, -1));
    // Every component connects as its own user, with its own password.
    for (const [name, user, key] of [
      ['executor-load-balancer', 'load-balancer', 'REDIS_LB_PASSWORD'],
      ['executor-persistence', 'persistence', 'REDIS_PERSISTENCE_PASSWORD'],
      ['executor-operator', 'operator', 'REDIS_OPERATOR_PASSWORD'],
    ] as const) {
      const app = podSpec(byId('Deployment', name)).containers[0] as Container;
      expect(app.env?.find((e) => e.name === 'REDIS_URL')?.value).toBe(
        `redis://${user}:$(${key})@$(REDIS_ADDRESS)/0`,
      );
      expect(app.env?.find((e) => e.name === key)?.valueFrom).toEqual({
        secretKeyRef: { name: 'redis-auth', key },
      });
      expect(template).toContain(`user ${user} on >\${${key}}`);
    }
    const maxmemory = quantity(
      (c.env?.find((e) => e.name === 'REDIS_MAXMEMORY')?.value ?? '').replace(/mb$/, 'Mi'),
    );
    expect(maxmemory).toBeLessThanOrEqual(0.8 * quantity(c.resources?.limits?.['memory'] ?? '0'));
  });

  it('isolates executor pods: ingress only from the platform, egress to DNS, Redis and public 80/443', () => {
    const np = byId('NetworkPolicy', 'executor-pods')['spec'] as {
      podSelector: { matchLabels: Record<string, string> };
      policyTypes: string[];
      ingress: Array<{ ports: Array<{ port: number }> }>;
      egress: Array<{ ports: Array<{ port: number }> }>;
    };
    // The labels the operator puts on pool pods (apps/operator/src/pools/names.ts).
    expect(
      selects(np.podSelector.matchLabels, {
        'app.kubernetes.io/name': 'executor',
        'app.kubernetes.io/component': 'executor',
      }),
    ).toBe(true);
    expect(np.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.ingress.flatMap((r) => r.ports.map((p) => p.port))).toEqual([8081]);
    expect(np.egress.flatMap((r) => r.ports.map((p) => p.port)).sort()).toEqual([53, 53, 6379]);
    expect(
      objects.some((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'default-deny-ingress'),
    ).toBe(true);
    const internet = byId('NetworkPolicy', 'executor-egress-internet')['spec'] as typeof np & {
      egress: Array<{
        to: Array<{ ipBlock: { cidr: string; except: string[] } }>;
        ports: Array<{ port: number }>;
      }>;
    };
    expect(internet.podSelector).toEqual(np.podSelector);
    expect(internet.egress.flatMap((r) => r.ports.map((p) => p.port))).toEqual([80, 443]);
    expect(internet.egress[0].to[0].ipBlock.except).toEqual(
      expect.arrayContaining(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16']),
    );
  });

  it('has a ServiceMonitor for every platform Service (by its named port) and one for the pools', () => {
    const monitors = objects.filter((o) => o.kind === 'ServiceMonitor');
    for (const svc of objects.filter((o) => o.kind === 'Service' && !(o['spec'] as Obj)['clusterIP'])) {
      const labels = svc.metadata['labels'] as Record<string, string>;
      // The External metrics API answers only the aggregator (front-proxy client certificate): not a
      // scrape target; the operator's metrics come from the executor-operator Service.
      if (labels['app.kubernetes.io/component'] === 'external-metrics') continue;
      const ports = ((svc['spec'] as Obj)['ports'] as Array<{ name: string }>).map((p) => p.name);
      const monitor = monitors.find((m) =>
        selects(
          ((m['spec'] as Obj)['selector'] as { matchLabels: Record<string, string> }).matchLabels,
          labels,
        ),
      );
      expect({ svc: svc.metadata.name, monitored: monitor !== undefined }).toEqual({
        svc: svc.metadata.name,
        monitored: true,
      });
      const endpoints = (monitor?.['spec'] as { endpoints: Array<{ port: string }> }).endpoints;
      for (const e of endpoints) expect(ports).toContain(e.port);
    }
    const pools = find(monitors, 'ServiceMonitor', 'executor-pools')['spec'] as {
      namespaceSelector: { any: boolean };
      selector: { matchLabels: Record<string, string> };
    };
    expect(pools.namespaceSelector.any).toBe(true);
    // The labels of the operator's pool Services (apps/operator/src/pools/desired.ts).
    expect(
      selects(pools.selector.matchLabels, {
        'app.kubernetes.io/name': 'executor',
        'app.kubernetes.io/component': 'executor',
        'app.kubernetes.io/managed-by': 'executor-operator',
      }),
    ).toBe(true);
  });
});

describe('generated inputs', () => {
  it.each(Object.entries(builds))(
    '%s installs the operator RBAC and the CRDs exactly as generated',
    (_overlay, objects) => {
      const generated = [
        ...parseObjects(readFileSync(OPERATOR_RBAC_FILE, 'utf8'), OPERATOR_RBAC_FILE),
        ...parseObjects(
          readFileSync(join(K8S_DIR, 'config/crd/executor-crd.yaml'), 'utf8'),
          'executor-crd.yaml',
        ),
      ];
      expect(generated.length).toBeGreaterThanOrEqual(5);
      // (dev: the CRDs minus their CEL rules, checked above against libs/crd's 1.20 target)
      for (const g of generated.filter((x) => _overlay === 'prod' || x.kind !== 'CustomResourceDefinition'))
        expect(objects.find((o) => resourceId(o) === resourceId(g))).toEqual(g);
    },
  );
});

describe('dev overlay specifics', () => {
  it('generates development Secrets: keys of at least 32 characters, one Redis password per ACL user', () => {
    const secret = (name: string, key: string): string =>
      Buffer.from(
        String((find(builds.dev, 'Secret', name)['data'] as Record<string, string>)[key]),
        'base64',
      ).toString('utf8');
    for (const k of [
      'REDIS_ADMIN_PASSWORD',
      'REDIS_LB_PASSWORD',
      'REDIS_PERSISTENCE_PASSWORD',
      'REDIS_OPERATOR_PASSWORD',
      'REDIS_MONITOR_PASSWORD',
    ])
      expect(secret('redis-auth', k)).toMatch(/^[0-9A-Za-z]+$/);
    expect(secret('executor-api-keys', 'EXECUTOR_API_KEYS')).toMatch(/^[a-z0-9-]+:[^,]{32,}$/);
    expect(secret('executor-api-keys', 'EXECUTOR_ADMIN_KEYS')).toMatch(/^[a-z0-9-]+:[^,]{32,}$/);
    expect(
      (find(builds.dev, 'ConfigMap', 'executor-platform-config')['data'] as Record<string, string>)[
        'LOG_LEVEL'
      ],
    ).toBe('debug');
  });

  it('keeps the secret templates out of every kustomization', () => {
    const k = parse(readFileSync(join(DEPLOYMENT_DIR, 'kustomization.yaml'), 'utf8')) as {
      resources: string[];
    };
    expect(k.resources).not.toContain('secrets.example.yaml');
    // The only Secret of the base is the External metrics TLS Secret, shipped empty (the operator fills it).
    expect(
      builds.prod
        .filter((o) => o.kind === 'Secret')
        .map((o) => [o.metadata.name, o['data'], o['stringData']]),
    ).toEqual([['executor-external-metrics-tls', undefined, undefined]]);
  });
});
