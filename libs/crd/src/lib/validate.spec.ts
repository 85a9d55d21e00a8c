import { DEFAULT_SCALING_METRICS, ScalingMetric } from '@executor/scaling';
import { ScalingMetricName } from './constants';
import { TEMPLATE_NAMES, getTemplate } from '@executor/templates';
import {
  API_VERSION,
  KIND_POOL,
  KIND_SESSION,
  POOL_DEFAULTS,
  SESSION_DEFAULTS,
  applyPoolDefaults,
  applySessionDefaults,
  formatErrors,
  validatePool,
  validateSession,
  validateSessionUpdate,
  type ExecutorSession,
  type FieldError,
  type ResolvedPoolSpec,
} from '../index';

const meta = { name: 'python-pool', namespace: 'executor-system' };
function pool(spec: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: API_VERSION, kind: KIND_POOL, metadata: meta, spec, ...extra };
}
function session(
  spec: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: API_VERSION,
    kind: KIND_SESSION,
    metadata: { name: 'session-1' },
    spec: { sessionId: 'abc-123', pool: 'python-pool', tenant: 'acme', template: 'python', ...spec },
    ...extra,
  };
}
function errorsOf(
  result: ReturnType<typeof validatePool> | ReturnType<typeof validateSession>,
): FieldError[] {
  if (result.ok) throw new Error('expected validation to fail');
  return result.errors;
}

describe('validatePool: valid input', () => {
  it('applies every schema default and the template resources to a minimal spec', () => {
    const result = validatePool(pool({ template: 'python' }));
    if (!result.ok) throw new Error(formatErrors(result.errors));
    const spec: ResolvedPoolSpec = result.value.spec;
    expect(spec).toMatchObject({
      template: 'python',
      minReplicas: 1,
      maxReplicas: 10,
      targetCPUUtilizationPercentage: 70,
      scaleDownCPUUtilizationPercentage: 30,
      scaleUpQueueDepthPerPod: 10,
      scaleDownQueueDepthPerPod: 5,
      sessionTTL: 300,
      maxSessionsPerPod: 20,
      weight: 1,
      networkEgress: 'none',
      metrics: { enabled: true },
      persistence: { enabled: true, snapshotIntervalSeconds: 60 },
      resources: getTemplate('python').defaultResources,
    });
    // The seed's scaling behaviour.
    expect(spec.scaling).toEqual({
      mode: 'hpa',
      metrics: ['cpu', 'queueDepth'],
      behavior: {
        scaleUp: {
          stabilizationWindowSeconds: 60,
          selectPolicy: 'Max',
          policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
        },
        scaleDown: {
          stabilizationWindowSeconds: 300,
          selectPolicy: 'Max',
          policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }],
        },
      },
    });
    expect(spec.replicas).toBeUndefined();
  });

  it('does not mutate its input and keeps given values', () => {
    const input = pool({ template: 'java', minReplicas: 0, maxReplicas: 3, scaling: { mode: 'operator' } });
    const before = structuredClone(input);
    const result = validatePool(input);
    expect(input).toEqual(before);
    expect(result.ok && result.value.spec.scaling).toMatchObject({
      mode: 'operator',
      behavior: POOL_DEFAULTS.scaling.behavior,
    });
    expect(result.ok && result.value.spec.minReplicas).toBe(0);
  });

  it('completes partial resources from the template and normalises integer quantities to strings', () => {
    const onlyLimit = validatePool(
      pool({ template: 'java', resources: { limits: { memory: '512Mi', cpu: 1 } } }),
    );
    expect(onlyLimit.ok && onlyLimit.value.spec.resources).toEqual({
      // Requests never exceed a given limit (java's default request is 768Mi).
      requests: { cpu: '500m', memory: '512Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    });
    const onlyRequest = validatePool(
      pool({ template: 'bash', resources: { requests: { cpu: 2, memory: '1Gi' } } }),
    );
    expect(onlyRequest.ok && onlyRequest.value.spec.resources).toEqual({
      requests: { cpu: '2', memory: '1Gi' },
      limits: { cpu: '2', memory: '1Gi' },
    });
  });

  it('accepts every template, replicas inside the bounds, and the full optional surface', () => {
    for (const template of TEMPLATE_NAMES) expect(validatePool(pool({ template })).ok).toBe(true);
    const full = validatePool(
      pool({
        template: 'go',
        replicas: 3,
        minReplicas: 1,
        maxReplicas: 5,
        region: 'eu-west-1',
        weight: 1000,
        runtimeClassName: 'gvisor',
        image: 'registry.local/exec/executor-go:dev',
        env: [{ name: 'GOFLAGS', value: '-mod=mod' }, { name: 'EMPTY' }],
        nodeSelector: { 'kubernetes.io/arch': 'amd64' },
        tolerations: [{ key: 'sandbox', operator: 'Exists', effect: 'NoSchedule' }],
        persistence: { enabled: false },
        networkEgress: 'all',
      }),
    );
    if (!full.ok) throw new Error(formatErrors(full.errors));
    expect(full.value.spec.tolerations).toEqual([
      { key: 'sandbox', operator: 'Exists', effect: 'NoSchedule' },
    ]);
    expect(full.value.spec.persistence).toEqual({ enabled: false, snapshotIntervalSeconds: 60 });
  });

  it('accepts a status written by the operator', () => {
    const result = validatePool(
      pool(
        { template: 'python' },
        {
          status: {
            replicas: 2,
            readyReplicas: 1,
            queueDepth: 4,
            activeSessions: 9,
            selector: 'app.kubernetes.io/name=executor,executor.ai-orchestrator.io/pool=python-pool',
            observedGeneration: 3,
            lastScaleTime: '2026-11-26T06:00:00Z',
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'PodsAvailable',
                lastTransitionTime: '2026-11-26T06:00:00.123+01:00',
              },
            ],
          },
        },
      ),
    );
    expect(result.ok).toBe(true);
  });
});

type BadCase = [description: string, input: unknown, field: string, message: RegExp];
const BAD_POOLS: BadCase[] = [
  [
    'minReplicas > maxReplicas (CEL rule)',
    pool({ template: 'c', minReplicas: 5, maxReplicas: 2 }),
    'spec.minReplicas',
    /less than or equal to maxReplicas \(minReplicas=5, maxReplicas=2\)/,
  ],
  [
    'minReplicas > default maxReplicas',
    pool({ template: 'c', minReplicas: 11 }),
    'spec.minReplicas',
    /maxReplicas=10/,
  ],
  [
    'negative minReplicas',
    pool({ template: 'c', minReplicas: -1 }),
    'spec.minReplicas',
    /at least 0 \(got -1\)/,
  ],
  [
    'fractional maxReplicas',
    pool({ template: 'c', maxReplicas: 2.5 }),
    'spec.maxReplicas',
    /must be an integer/,
  ],
  [
    'unknown template',
    pool({ template: 'cobol' }),
    'spec.template',
    /one of: python, python-data, .*, r, code-interpreter-v1, base \(got "cobol"\)/,
  ],
  ['missing template', pool({ minReplicas: 1 }), 'spec.template', /spec.template is required/],
  [
    'bad cpu quantity',
    pool({ template: 'c', resources: { limits: { cpu: '12 cores' } } }),
    'spec.resources.limits.cpu',
    /Kubernetes quantity .* \(got "12 cores"\)/,
  ],
  [
    'negative memory quantity',
    pool({ template: 'c', resources: { requests: { memory: '-1Gi' } } }),
    'spec.resources.requests.memory',
    /quantity/,
  ],
  [
    'requests above limits',
    pool({ template: 'c', resources: { requests: { cpu: '4' }, limits: { cpu: '2' } } }),
    'spec.resources.requests.cpu',
    /\(4\) must be less than or equal to spec.resources.limits.cpu \(2\)/,
  ],
  [
    'zero memory limit',
    pool({ template: 'c', resources: { requests: { memory: 0 }, limits: { memory: 0 } } }),
    'spec.resources.limits.memory',
    /greater than 0/,
  ],
  ['sessionTTL 0', pool({ template: 'c', sessionTTL: 0 }), 'spec.sessionTTL', /at least 1 \(got 0\)/],
  ['weight 0', pool({ template: 'c', weight: 0 }), 'spec.weight', /at least 1 \(got 0\)/],
  ['weight above 1000', pool({ template: 'c', weight: 1001 }), 'spec.weight', /at most 1000/],
  [
    'bad scaling mode',
    pool({ template: 'c', scaling: { mode: 'keda' } }),
    'spec.scaling.mode',
    /one of: hpa, operator \(got "keda"\)/,
  ],
  [
    'CPU target 150',
    pool({ template: 'c', targetCPUUtilizationPercentage: 150 }),
    'spec.targetCPUUtilizationPercentage',
    /at most 100 \(got 150\)/,
  ],
  [
    'scale-down CPU above target',
    pool({ template: 'c', scaleDownCPUUtilizationPercentage: 80 }),
    'spec.scaleDownCPUUtilizationPercentage',
    /less than targetCPUUtilizationPercentage/,
  ],
  [
    'queue thresholds inverted',
    pool({ template: 'c', scaleUpQueueDepthPerPod: 5, scaleDownQueueDepthPerPod: 5 }),
    'spec.scaleDownQueueDepthPerPod',
    /less than scaleUpQueueDepthPerPod/,
  ],
  [
    'replicas above maxReplicas',
    pool({ template: 'c', replicas: 11 }),
    'spec.replicas',
    /between minReplicas and maxReplicas/,
  ],
  [
    'zero-value scaling policy',
    pool({
      template: 'c',
      scaling: { behavior: { scaleUp: { policies: [{ type: 'Percent', value: 0, periodSeconds: 15 }] } } },
    }),
    'spec.scaling.behavior.scaleUp.policies[0].value',
    /at least 1/,
  ],
  [
    'empty scaling policies',
    pool({ template: 'c', scaling: { behavior: { scaleDown: { policies: [] } } } }),
    'spec.scaling.behavior.scaleDown.policies',
    /at least 1 items/,
  ],
  [
    'stabilization window too long',
    pool({ template: 'c', scaling: { behavior: { scaleDown: { stabilizationWindowSeconds: 7200 } } } }),
    'spec.scaling.behavior.scaleDown.stabilizationWindowSeconds',
    /at most 3600/,
  ],
  ['bad egress', pool({ template: 'c', networkEgress: 'some' }), 'spec.networkEgress', /one of: none, all/],
  [
    'bad env name',
    pool({ template: 'c', env: [{ name: '1 bad', value: 'x' }] }),
    'spec.env[0].name',
    /must match/,
  ],
  [
    'non-string nodeSelector value',
    pool({ template: 'c', nodeSelector: { zone: 1 } }),
    'spec.nodeSelector.zone',
    /must be a string/,
  ],
  ['upper-case region', pool({ template: 'c', region: 'EU' }), 'spec.region', /must match/],
  [
    'snapshot interval too short',
    pool({ template: 'c', persistence: { snapshotIntervalSeconds: 1 } }),
    'spec.persistence.snapshotIntervalSeconds',
    /at least 5/,
  ],
  [
    'metrics.enabled not a boolean',
    pool({ template: 'c', metrics: { enabled: 'yes' } }),
    'spec.metrics.enabled',
    /true or false/,
  ],
  [
    'typo in a field name',
    pool({ template: 'c', minReplica: 2 }),
    'spec.minReplica',
    /not a known field \(did you mean spec.minReplicas\?\)/,
  ],
  [
    'wrong apiVersion',
    { ...pool({ template: 'c' }), apiVersion: 'executor.ai-orchestrator.io/v1beta1' },
    'apiVersion',
    /must be "executor.ai-orchestrator.io\/v1"/,
  ],
  [
    'wrong kind',
    { ...pool({ template: 'c' }), kind: 'ExecutorSession' },
    'kind',
    /kind must be "ExecutorPool" \(got "ExecutorSession"\)/,
  ],
  [
    'pool name not a DNS-1035 label',
    { ...pool({ template: 'c' }), metadata: { name: '9pool' } },
    'metadata.name',
    /must match/,
  ],
  [
    'pool name too long',
    { ...pool({ template: 'c' }), metadata: { name: 'p'.repeat(51) } },
    'metadata.name',
    /at most 50 characters/,
  ],
  [
    'missing metadata',
    { apiVersion: API_VERSION, kind: KIND_POOL, spec: { template: 'c' } },
    'metadata',
    /metadata is required/,
  ],
  ['spec not an object', pool('python'), 'spec', /spec must be an object/],
  [
    'bad status condition',
    pool(
      { template: 'c' },
      { status: { conditions: [{ type: 'Ready', status: 'Yes', reason: 'X', lastTransitionTime: 'now' }] } },
    ),
    'status.conditions[0].status',
    /one of: True, False, Unknown/,
  ],
  ['not an object at all', 'ExecutorPool', '', /must be an object/],
  [
    'no scaling metric',
    pool({ template: 'c', scaling: { metrics: [] } }),
    'spec.scaling.metrics',
    /at least 1/,
  ],
  [
    'an unknown scaling metric',
    pool({ template: 'c', scaling: { metrics: ['memory'] } }),
    'spec.scaling.metrics[0]',
    /one of: cpu, queueDepth/,
  ],
  [
    'a scaling metric twice',
    pool({ template: 'c', scaling: { metrics: ['queueDepth', 'queueDepth'] } }),
    'spec.scaling.metrics',
    /must not name a metric twice/,
  ],
];

describe('spec.scaling.metrics', () => {
  it('names the metrics exactly as libs/scaling does (the operator passes them through)', () => {
    expect(Object.values(ScalingMetricName)).toEqual([...DEFAULT_SCALING_METRICS]);
    expect(Object.values(ScalingMetricName)).toEqual(Object.values(ScalingMetric));
  });
});

describe('validatePool: invalid input', () => {
  it.each(BAD_POOLS)('rejects %s', (_description, input, field, message) => {
    const errors = errorsOf(validatePool(input));
    const match = errors.find((e) => e.field === field);
    expect({ errors, match: match?.message }).toEqual({ errors, match: expect.stringMatching(message) });
    // Messages name their field, so a condition message alone is actionable.
    for (const e of errors) if (e.field) expect(e.message).toContain(e.field);
  });

  it('reports several problems at once, one per field', () => {
    const errors = errorsOf(validatePool(pool({ template: 'cobol', minReplicas: -1, weight: 0 })));
    expect(errors.map((e) => e.field).sort()).toEqual(['spec.minReplicas', 'spec.template', 'spec.weight']);
  });

  it('prunes unknown fields instead of rejecting them with unknownFields: prune (as the API server does)', () => {
    const result = validatePool(pool({ template: 'c', minReplica: 2, scaling: { mood: 'x' } }), {
      unknownFields: 'prune',
    });
    expect(result.ok).toBe(true);
    expect(result.ok && 'minReplica' in result.value.spec).toBe(false);
    expect(result.ok && 'mood' in result.value.spec.scaling).toBe(false);
  });

  it('formatErrors joins the messages', () => {
    const errors = errorsOf(validatePool(pool({ template: 'c', weight: 0, sessionTTL: 0 })));
    expect(formatErrors(errors)).toBe(
      'spec.sessionTTL must be at least 1 (got 0); spec.weight must be at least 1 (got 0)',
    );
  });
});

describe('applyPoolDefaults', () => {
  it('defaults a typed spec without validating it', () => {
    const spec = applyPoolDefaults({ template: 'rust', maxReplicas: 4 });
    expect(spec.maxReplicas).toBe(4);
    expect(spec.minReplicas).toBe(POOL_DEFAULTS.minReplicas);
    expect(spec.resources).toEqual(getTemplate('rust').defaultResources);
    expect(spec.scaling.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
  });

  it('types defaulted fields as present and fields without a default as optional', () => {
    const spec = applyPoolDefaults({ template: 'c' });
    const min: number = spec.minReplicas;
    const mode: 'hpa' | 'operator' = spec.scaling.mode;
    const window: number = spec.scaling.behavior.scaleUp.stabilizationWindowSeconds;
    const cpu: string = spec.resources.limits.cpu;
    // @ts-expect-error replicas has no default (typecheck fails if Resolved<> made it required)
    const replicas: number = spec.replicas;
    // @ts-expect-error region has no default
    const region: string = spec.region;
    expect([min, mode, window, cpu, replicas, region]).toEqual([1, 'hpa', 60, '1', undefined, undefined]);
  });

  it('throws for an unknown template', () => {
    expect(() => applyPoolDefaults({ template: 'perl' as 'c' })).toThrow(/Unknown template "perl"/);
  });
});

describe('validateSession', () => {
  it('applies defaults (persist true, ttlSeconds 300)', () => {
    const result = validateSession(session({}));
    if (!result.ok) throw new Error(formatErrors(result.errors));
    expect(result.value.spec).toMatchObject({ persist: true, ttlSeconds: 300 });
    expect(applySessionDefaults({ sessionId: 'a', pool: 'p', tenant: 't', template: 'c' })).toMatchObject(
      SESSION_DEFAULTS,
    );
  });

  it('accepts a full status with migrations', () => {
    const result = validateSession(
      session(
        { pod: 'python-pool-abc', persist: false, ttlSeconds: 60 },
        {
          status: {
            phase: 'Active',
            pod: 'python-pool-def',
            migrations: [
              {
                from: 'python-pool-abc',
                to: 'python-pool-def',
                at: '2026-11-26T06:01:02Z',
                reason: 'PodDeleted',
              },
            ],
            lastSnapshotAt: '2026-11-26T06:01:00Z',
            expiresAt: '2026-11-26T06:06:00Z',
            conditions: [
              {
                type: 'Persisted',
                status: 'True',
                reason: 'SnapshotStored',
                lastTransitionTime: '2026-11-26T06:01:00Z',
              },
            ],
          },
        },
      ),
    );
    if (!result.ok) throw new Error(formatErrors(result.errors));
    expect(result.value.status?.migrations).toHaveLength(1);
  });

  const BAD_SESSIONS: BadCase[] = [
    ['session without pool', session({ pool: undefined }), 'spec.pool', /spec.pool is required/],
    ['ttl 0', session({ ttlSeconds: 0 }), 'spec.ttlSeconds', /at least 1 \(got 0\)/],
    [
      'bad phase',
      session({}, { status: { phase: 'Gone' } }),
      'status.phase',
      /one of: Pending, Active, Migrating, Expired, Terminated/,
    ],
    ['bad timestamp', session({}, { status: { expiresAt: 'tomorrow' } }), 'status.expiresAt', /RFC 3339/],
    ['unknown template', session({ template: 'perl' }), 'spec.template', /one of:/],
    ['bad session id', session({ sessionId: 'a b' }), 'spec.sessionId', /must match/],
    ['persist not boolean', session({ persist: 'yes' }), 'spec.persist', /true or false/],
    [
      'migration without target',
      session(
        {},
        { status: { migrations: [{ from: 'a', at: '2026-11-26T06:01:02Z', reason: 'PodDeleted' }] } },
      ),
      'status.migrations[0].to',
      /required/,
    ],
    ['wrong kind', { ...session({}), kind: KIND_POOL }, 'kind', /kind must be "ExecutorSession"/],
  ];
  it.each(BAD_SESSIONS)('rejects %s', (_d, input, field, message) => {
    const errors = errorsOf(validateSession(input));
    expect(errors.find((e) => e.field === field)?.message).toMatch(message);
  });

  it('validateSessionUpdate enforces the immutable fields (CEL transition rules)', () => {
    const previous = validateSession(session({})) as { ok: true; value: ExecutorSession };
    expect(
      validateSessionUpdate(previous.value, session({ pod: 'python-pool-xyz', ttlSeconds: 900 })).ok,
    ).toBe(true);
    const errors = errorsOf(
      validateSessionUpdate(previous.value, session({ pool: 'other-pool', tenant: 'evil' })),
    );
    expect(errors).toEqual([
      { field: 'spec.pool', message: 'spec.pool is immutable (was "python-pool", got "other-pool")' },
      { field: 'spec.tenant', message: 'spec.tenant is immutable (was "acme", got "evil")' },
    ]);
    expect(errorsOf(validateSessionUpdate(previous.value, session({ ttlSeconds: -5 })))[0].field).toBe(
      'spec.ttlSeconds',
    );
  });
});
