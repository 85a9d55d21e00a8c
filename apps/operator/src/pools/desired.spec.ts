import { applyPoolDefaults, type ExecutorPoolSpec, type ResolvedPool } from '@executor/crd';
import { desiredChildren, TERMINATION_GRACE_PERIOD_SECONDS, type BuildContext } from './desired';

const ctx: BuildContext = {
  imageRegistry: 'registry.example/exec',
  imageTag: '1.2.3',
  redisUsers: 'per-pool',
  redisSecretName: 'executor-redis',
  redisSecretKey: 'url',
  queuePrefix: 'executor',
  sandbox: 'bwrap',
  hpaApiVersion: 'autoscaling/v2',
  pdbApiVersion: 'policy/v1',
};

function pool(spec: Partial<ExecutorPoolSpec> = {}): ResolvedPool {
  return {
    apiVersion: 'executor.ai-orchestrator.io/v1',
    kind: 'ExecutorPool',
    metadata: { name: 'py', namespace: 'team-a', uid: 'uid-1', generation: 3 },
    spec: applyPoolDefaults({ template: 'python', ...spec } as ExecutorPoolSpec),
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- digging into untyped manifests
type Json = Record<string, any>;

describe('desiredChildren', () => {
  it('gives every child the pool as controller owner, the pool labels and namespace', () => {
    const c = desiredChildren(pool(), ctx);
    for (const child of [c.configMap, c.deployment, c.service, c.pdb, c.hpa]) {
      expect(child?.metadata.namespace).toBe('team-a');
      expect(child?.metadata.ownerReferences).toEqual([
        {
          apiVersion: 'executor.ai-orchestrator.io/v1',
          kind: 'ExecutorPool',
          name: 'py',
          uid: 'uid-1',
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
      expect(child?.metadata.labels).toMatchObject({
        'executor.ai-orchestrator.io/pool': 'py',
        'app.kubernetes.io/managed-by': 'executor-operator',
      });
    }
  });

  it('never sets Deployment spec.replicas (the HPA or the scale subresource owns it)', () => {
    expect((desiredChildren(pool(), ctx).deployment['spec'] as Json)['replicas']).toBeUndefined();
    expect(
      (desiredChildren(pool({ scaling: { mode: 'operator' } }), ctx).deployment['spec'] as Json)['replicas'],
    ).toBeUndefined();
  });

  it('runs the executor as root and privileged (PLAN D2), read-only, no API token, with writable emptyDirs', () => {
    const spec = (desiredChildren(pool(), ctx).deployment['spec'] as Json)['template']['spec'] as Json;
    const c = spec['containers'][0] as Json;
    expect(c['image']).toBe('registry.example/exec/executor-python:1.2.3');
    expect(c['securityContext']).toEqual({
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      privileged: true,
      allowPrivilegeEscalation: true,
      readOnlyRootFilesystem: true,
      seccompProfile: { type: 'Unconfined' },
    });
    expect(spec['securityContext']).toEqual({ runAsUser: 0, runAsGroup: 0, runAsNonRoot: false });
    expect(spec['automountServiceAccountToken']).toBe(false);
    expect(spec['enableServiceLinks']).toBe(false);
    expect(c['volumeMounts']).toEqual([
      { name: 'workspace', mountPath: '/workspace' },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
    expect(spec['volumes'].map((v: Json) => Object.keys(v))).toEqual([
      ['name', 'emptyDir'],
      ['name', 'emptyDir'],
    ]);
    expect(spec['runtimeClassName']).toBeUndefined();
  });

  it('passes pool and pod identity through env (downward API, Secret ref) and probes the executor port', () => {
    const c = (
      (desiredChildren(pool({ region: 'eu-west' }), ctx).deployment['spec'] as Json)['template'][
        'spec'
      ] as Json
    )['containers'][0] as Json;
    const env = Object.fromEntries(
      (c['env'] as Json[]).map((e) => [e['name'], e['value'] ?? e['valueFrom']]),
    );
    expect(env['POD_NAME']).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(env['POOL_NAME']).toBe('py');
    expect(env['TEMPLATE']).toBe('python');
    expect(env['REGION']).toBe('eu-west');
    // The pool's own Redis user (operator-made Secret <pool>-redis); `shared` keeps one Secret.
    expect(env['REDIS_URL']).toEqual({ secretKeyRef: { name: 'py-redis', key: 'url' } });
    const shared = desiredChildren(pool({ region: 'eu-west' }), { ...ctx, redisUsers: 'shared' });
    const sharedEnv = (shared.deployment['spec'] as Json)['template']['spec']['containers'][0][
      'env'
    ] as Json[];
    expect(sharedEnv.find((e) => e['name'] === 'REDIS_URL')?.['valueFrom']).toEqual({
      secretKeyRef: { name: 'executor-redis', key: 'url' },
    });
    expect(env['SANDBOX']).toBe('bwrap');
    expect(c['readinessProbe']['httpGet']).toEqual({ path: '/health/ready', port: 'http' });
    expect(c['livenessProbe']['httpGet']).toEqual({ path: '/health/live', port: 'http' });
    expect(c['ports']).toEqual([{ name: 'http', containerPort: 8081, protocol: 'TCP' }]);
    expect(c['lifecycle']['preStop']).toBeDefined();
    expect(c['resources']).toEqual({ requests: expect.any(Object), limits: expect.any(Object) });
  });

  it('gives the executor time to snapshot: grace period longer than its drain timeout', () => {
    const spec = (desiredChildren(pool(), ctx).deployment['spec'] as Json)['template']['spec'] as Json;
    expect(spec['terminationGracePeriodSeconds']).toBe(TERMINATION_GRACE_PERIOD_SECONDS);
    const env = Object.fromEntries(
      (spec['containers'][0]['env'] as Json[]).map((e) => [e['name'], e['value']]),
    );
    expect(TERMINATION_GRACE_PERIOD_SECONDS * 1000).toBeGreaterThan(Number(env['SHUTDOWN_TIMEOUT_MS']));
  });

  it('uses runtimeClassName when asked, and keeps the in-pod sandbox there too', () => {
    const spec = (desiredChildren(pool({ runtimeClassName: 'gvisor' }), ctx).deployment['spec'] as Json)[
      'template'
    ]['spec'] as Json;
    expect(spec['runtimeClassName']).toBe('gvisor');
    expect((spec['containers'][0]['env'] as Json[]).find((e) => e['name'] === 'SANDBOX')?.['value']).toBe(
      'bwrap',
    );
  });

  it('builds the HPA from libs/scaling with the seed behaviour and the queue-depth External metric', () => {
    const hpa = desiredChildren(pool({ minReplicas: 2, maxReplicas: 20 }), ctx).hpa as Json;
    expect(hpa['apiVersion']).toBe('autoscaling/v2');
    expect(hpa['spec']['scaleTargetRef']).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'py' });
    expect(hpa['spec']).toMatchObject({ minReplicas: 2, maxReplicas: 20 });
    expect(hpa['spec']['behavior']['scaleUp']).toEqual({
      stabilizationWindowSeconds: 60,
      selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
    });
    expect(hpa['spec']['behavior']['scaleDown']).toEqual({
      stabilizationWindowSeconds: 300,
      selectPolicy: 'Max',
      policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }],
    });
    expect(hpa['spec']['metrics']).toEqual([
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
      },
      {
        type: 'External',
        external: {
          metric: { name: 'executor_pool_queue_depth', selector: { matchLabels: { pool: 'py' } } },
          target: { type: 'AverageValue', averageValue: '10' },
        },
      },
    ]);
  });

  it('scaling.metrics [queueDepth]: an HPA on the External queue depth alone (no metrics-server)', () => {
    const hpa = desiredChildren(pool({ scaling: { metrics: ['queueDepth'] } }), ctx).hpa as Json;
    expect(hpa['spec']['metrics']).toEqual([
      {
        type: 'External',
        external: {
          metric: { name: 'executor_pool_queue_depth', selector: { matchLabels: { pool: 'py' } } },
          target: { type: 'AverageValue', averageValue: '10' },
        },
      },
    ]);
  });

  it('picks the discovered API versions, and has no HPA in scaling.mode operator', () => {
    const old = desiredChildren(pool(), {
      ...ctx,
      hpaApiVersion: 'autoscaling/v2beta2',
      pdbApiVersion: 'policy/v1beta1',
    });
    expect(old.hpa?.apiVersion).toBe('autoscaling/v2beta2');
    expect(old.pdb.apiVersion).toBe('policy/v1beta1');
    expect(desiredChildren(pool({ scaling: { mode: 'operator' } }), ctx).hpa).toBeUndefined();
  });

  it('rolls the pods when the pool config changes (config hash annotation), not otherwise', () => {
    const hash = (p: ResolvedPool): string =>
      ((desiredChildren(p, ctx).deployment['spec'] as Json)['template']['metadata']['annotations'] as Json)[
        'executor.ai-orchestrator.io/config-hash'
      ];
    expect(hash(pool())).toBe(hash(pool()));
    expect(hash(pool({ maxSessionsPerPod: 5 }))).not.toBe(hash(pool()));
    expect(desiredChildren(pool({ maxSessionsPerPod: 5 }), ctx).configMap['data']).toMatchObject({
      MAX_SESSIONS: '5',
    });
  });

  it('refuses a pool without a uid (ownerReferences need it)', () => {
    const p = pool();
    delete p.metadata.uid;
    expect(() => desiredChildren(p, ctx)).toThrow(/no uid/);
  });
});
