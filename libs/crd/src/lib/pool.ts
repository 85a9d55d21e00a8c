import { Type, type Static } from '@sinclair/typebox';
import { TEMPLATE_NAMES } from '@executor/templates';
import { API_VERSION, KIND_POOL, NetworkEgress, ScalingMetricName, ScalingMode } from './constants';
import { ConditionsSchema, ObjectMetaSchema } from './common';
import {
  DateTime,
  DNS1123_LABEL,
  ENV_VAR_NAME,
  OpaqueObject,
  Quantity,
  StringEnum,
  StringMap,
  WithDefault,
  X_LIST_MAP_KEYS,
  X_LIST_TYPE,
  X_VALIDATIONS,
  type CelRule,
  type Resolved,
} from './schema-helpers';

/**
 * Defaults of `ExecutorPool.spec` (the seed's numbers). The CRD schema, {@link applyPoolDefaults} and the
 * scaling lib all use these.
 */
export const POOL_DEFAULTS = {
  minReplicas: 1,
  maxReplicas: 10,
  targetCPUUtilizationPercentage: 70,
  scaleDownCPUUtilizationPercentage: 30,
  scaleUpQueueDepthPerPod: 10,
  scaleDownQueueDepthPerPod: 5,
  sessionTTL: 300,
  maxSessionsPerPod: 20,
  weight: 1,
  networkEgress: NetworkEgress.None,
  metrics: { enabled: true },
  persistence: { enabled: true, snapshotIntervalSeconds: 60 },
  scaling: {
    mode: ScalingMode.Hpa,
    metrics: [ScalingMetricName.Cpu, ScalingMetricName.QueueDepth],
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
  },
} as const;

const ScalingPolicySchema = Type.Object(
  {
    type: StringEnum(['Percent', 'Pods'], {
      description: 'Percent of current replicas, or a number of pods.',
    }),
    value: Type.Integer({ minimum: 1, description: 'Amount of change allowed per period.' }),
    periodSeconds: Type.Integer({ minimum: 1, maximum: 1800, description: 'Window the policy applies to.' }),
  },
  { description: 'One HPA scaling policy (autoscaling/v2 HPAScalingPolicy).' },
);

function ScalingRulesSchema(
  defaults: (typeof POOL_DEFAULTS)['scaling']['behavior']['scaleUp' | 'scaleDown'],
  description: string,
) {
  return WithDefault(
    Type.Object(
      {
        stabilizationWindowSeconds: WithDefault(
          Type.Integer({ minimum: 0, maximum: 3600, description: 'Look-back window for recommendations.' }),
          defaults.stabilizationWindowSeconds,
        ),
        selectPolicy: WithDefault(
          StringEnum(['Max', 'Min', 'Disabled'], { description: 'Which policy wins when several apply.' }),
          defaults.selectPolicy,
        ),
        policies: WithDefault(
          Type.Array(ScalingPolicySchema, { minItems: 1, maxItems: 10, description: 'Rate limits.' }),
          defaults.policies.map((p) => ({ ...p })),
        ),
      },
      { description },
    ),
    {},
  );
}

const ResourceListSchema = Type.Object({
  cpu: Type.Optional(Quantity('CPU quantity, e.g. 500m or 2.')),
  memory: Type.Optional(Quantity('Memory quantity, e.g. 512Mi or 2Gi.')),
});

/**
 * A cross-field rule: `rule`/`message` go into the CRD as CEL (`x-kubernetes-validations`, enforced by
 * API servers ≥ 1.25); `check` is the same rule in TypeScript (always enforced by {@link validatePool}),
 * reported on `field` (relative to the object the rule sits on).
 */
export interface CrossFieldRule<T> extends CelRule {
  readonly field: string;
  readonly check: (self: T) => boolean;
}

/** The defaulted spec fields the cross-field rules read. */
export interface PoolRuleInput {
  readonly replicas?: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly targetCPUUtilizationPercentage: number;
  readonly scaleDownCPUUtilizationPercentage: number;
  readonly scaleUpQueueDepthPerPod: number;
  readonly scaleDownQueueDepthPerPod: number;
  readonly scaling: { readonly metrics: readonly string[] };
}

/** CEL rules on `spec` (all fields they read have defaults, so `has()` is needed only for `replicas`). */
export const POOL_SPEC_RULES: readonly CrossFieldRule<PoolRuleInput>[] = [
  {
    rule: 'self.minReplicas <= self.maxReplicas',
    message: 'minReplicas must be less than or equal to maxReplicas',
    field: 'minReplicas',
    check: (s) => s.minReplicas <= s.maxReplicas,
  },
  {
    rule: '!has(self.replicas) || (self.replicas >= self.minReplicas && self.replicas <= self.maxReplicas)',
    message: 'replicas must be between minReplicas and maxReplicas',
    field: 'replicas',
    check: (s) => s.replicas === undefined || (s.replicas >= s.minReplicas && s.replicas <= s.maxReplicas),
  },
  {
    rule: 'self.scaleDownCPUUtilizationPercentage < self.targetCPUUtilizationPercentage',
    message: 'scaleDownCPUUtilizationPercentage must be less than targetCPUUtilizationPercentage',
    field: 'scaleDownCPUUtilizationPercentage',
    check: (s) => s.scaleDownCPUUtilizationPercentage < s.targetCPUUtilizationPercentage,
  },
  {
    rule: 'self.scaling.metrics.all(m, self.scaling.metrics.exists_one(x, x == m))',
    message: 'scaling.metrics must not name a metric twice',
    field: 'scaling.metrics',
    check: (s) => new Set(s.scaling.metrics).size === s.scaling.metrics.length,
  },
  {
    rule: 'self.scaleDownQueueDepthPerPod < self.scaleUpQueueDepthPerPod',
    message: 'scaleDownQueueDepthPerPod must be less than scaleUpQueueDepthPerPod',
    field: 'scaleDownQueueDepthPerPod',
    check: (s) => s.scaleDownQueueDepthPerPod < s.scaleUpQueueDepthPerPod,
  },
];

export const ExecutorPoolSpecSchema = Type.Object(
  {
    template: StringEnum(TEMPLATE_NAMES, { description: 'Built-in template the pool runs.' }),
    replicas: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Desired replicas, written through the scale subresource (scaling.mode=operator). Unset in hpa mode.',
      }),
    ),
    minReplicas: WithDefault(Type.Integer({ minimum: 0, description: 'Lower bound of replicas.' }), 1),
    maxReplicas: WithDefault(Type.Integer({ minimum: 1, maximum: 1000, description: 'Upper bound.' }), 10),
    targetCPUUtilizationPercentage: WithDefault(
      Type.Integer({ minimum: 1, maximum: 100, description: 'Scale up above this average CPU %.' }),
      POOL_DEFAULTS.targetCPUUtilizationPercentage,
    ),
    scaleDownCPUUtilizationPercentage: WithDefault(
      Type.Integer({ minimum: 1, maximum: 100, description: 'Scale down only below this average CPU %.' }),
      POOL_DEFAULTS.scaleDownCPUUtilizationPercentage,
    ),
    scaleUpQueueDepthPerPod: WithDefault(
      Type.Integer({ minimum: 1, description: 'Scale up above this queue depth per pod.' }),
      POOL_DEFAULTS.scaleUpQueueDepthPerPod,
    ),
    scaleDownQueueDepthPerPod: WithDefault(
      Type.Integer({ minimum: 0, description: 'Scale down only below this queue depth per pod.' }),
      POOL_DEFAULTS.scaleDownQueueDepthPerPod,
    ),
    resources: Type.Optional(
      Type.Object(
        {
          requests: Type.Optional(ResourceListSchema),
          limits: Type.Optional(ResourceListSchema),
        },
        { description: "Executor container resources; unset values come from the template's defaults." },
      ),
    ),
    sessionTTL: WithDefault(
      Type.Integer({ minimum: 1, description: 'Default idle TTL of sessions in seconds.' }),
      POOL_DEFAULTS.sessionTTL,
    ),
    maxSessionsPerPod: WithDefault(
      Type.Integer({ minimum: 1, maximum: 1000, description: 'Sessions one pod may hold.' }),
      POOL_DEFAULTS.maxSessionsPerPod,
    ),
    metrics: WithDefault(
      Type.Object(
        {
          enabled: WithDefault(Type.Boolean({ description: 'Expose /metrics and a ServiceMonitor.' }), true),
        },
        { description: 'Metrics settings.' },
      ),
      {},
    ),
    region: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 63,
        pattern: DNS1123_LABEL,
        description: 'Region for geo routing.',
      }),
    ),
    weight: WithDefault(
      Type.Integer({ minimum: 1, maximum: 1000, description: 'Relative weight for load balancing.' }),
      POOL_DEFAULTS.weight,
    ),
    scaling: WithDefault(
      Type.Object(
        {
          mode: WithDefault(
            StringEnum([ScalingMode.Hpa, ScalingMode.Operator], {
              description: 'hpa: an autoscaling/v2 HPA; operator: the operator applies the same policy.',
            }),
            ScalingMode.Hpa,
          ),
          metrics: WithDefault(
            Type.Array(
              StringEnum([ScalingMetricName.Cpu, ScalingMetricName.QueueDepth], {
                description:
                  'cpu: average CPU utilization (metrics.k8s.io); queueDepth: queued jobs per pod.',
              }),
              {
                minItems: 1,
                maxItems: 2,
                [X_LIST_TYPE]: 'set',
                description:
                  'Metrics the pool scales on (each at most once). [queueDepth] on clusters without metrics-server: the CPU metric could never be read there and would block every scale-down.',
              },
            ),
            [ScalingMetricName.Cpu, ScalingMetricName.QueueDepth],
          ),
          behavior: WithDefault(
            Type.Object(
              {
                scaleUp: ScalingRulesSchema(POOL_DEFAULTS.scaling.behavior.scaleUp, 'Scale-up behaviour.'),
                scaleDown: ScalingRulesSchema(
                  POOL_DEFAULTS.scaling.behavior.scaleDown,
                  'Scale-down behaviour.',
                ),
              },
              { description: 'autoscaling/v2 HPA behavior.' },
            ),
            {},
          ),
        },
        { description: 'Autoscaling settings.' },
      ),
      {},
    ),
    runtimeClassName: Type.Optional(
      Type.String({
        maxLength: 253,
        pattern: DNS1123_LABEL,
        description: 'RuntimeClass (e.g. gvisor, kata).',
      }),
    ),
    image: Type.Optional(
      Type.String({ minLength: 1, maxLength: 512, description: "Overrides the template's image." }),
    ),
    env: Type.Optional(
      Type.Array(
        Type.Object({
          name: Type.String({ minLength: 1, maxLength: 253, pattern: ENV_VAR_NAME }),
          value: Type.Optional(Type.String({ description: 'Value (empty if unset).' })),
        }),
        {
          maxItems: 100,
          description: 'Extra environment of the executor container.',
          [X_LIST_TYPE]: 'map',
          [X_LIST_MAP_KEYS]: ['name'],
        },
      ),
    ),
    nodeSelector: Type.Optional(StringMap('Node labels the pods must match.')),
    tolerations: Type.Optional(
      Type.Array(OpaqueObject('A core/v1 Toleration, passed through.'), { description: 'Pod tolerations.' }),
    ),
    persistence: WithDefault(
      Type.Object(
        {
          enabled: WithDefault(
            Type.Boolean({ description: 'Snapshot sessions (preStop, periodic, explicit).' }),
            true,
          ),
          snapshotIntervalSeconds: WithDefault(
            Type.Integer({
              minimum: 5,
              maximum: 86400,
              description: 'Period of snapshots of changed sessions.',
            }),
            POOL_DEFAULTS.persistence.snapshotIntervalSeconds,
          ),
        },
        { description: 'Session persistence.' },
      ),
      {},
    ),
    networkEgress: WithDefault(
      StringEnum([NetworkEgress.None, NetworkEgress.All], {
        description: 'none: a NetworkPolicy denies egress except to the platform; all: unrestricted.',
      }),
      NetworkEgress.None,
    ),
  },
  {
    description: 'Desired state of an executor pool.',
    [X_VALIDATIONS]: POOL_SPEC_RULES.map(({ rule, message }) => ({ rule, message })),
  },
);

export const ExecutorPoolStatusSchema = Type.Object(
  {
    replicas: Type.Optional(Type.Integer({ minimum: 0, description: 'Current pods (scale subresource).' })),
    readyReplicas: Type.Optional(Type.Integer({ minimum: 0, description: 'Ready pods.' })),
    queueDepth: Type.Optional(Type.Integer({ minimum: 0, description: 'Waiting jobs over all pods.' })),
    activeSessions: Type.Optional(Type.Integer({ minimum: 0, description: 'Live sessions in the pool.' })),
    conditions: Type.Optional(ConditionsSchema()),
    observedGeneration: Type.Optional(
      Type.Integer({ minimum: 0, description: 'Last reconciled generation.' }),
    ),
    lastScaleTime: Type.Optional(DateTime({ description: 'Last time replicas changed.' })),
    selector: Type.Optional(Type.String({ description: 'Pod label selector (scale subresource).' })),
  },
  { description: 'Observed state of an executor pool.' },
);

/** Pool names become Deployment/Service names (with suffixes): a DNS-1035 label of ≤ 50 characters. */
export const POOL_NAME_MAX_LENGTH = 50;
export const POOL_NAME_PATTERN = '^[a-z]([-a-z0-9]*[a-z0-9])?$';

export const ExecutorPoolSchema = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal(KIND_POOL),
  metadata: Type.Object({
    ...ObjectMetaSchema.properties,
    name: Type.String({ minLength: 1, maxLength: POOL_NAME_MAX_LENGTH, pattern: POOL_NAME_PATTERN }),
  }),
  spec: ExecutorPoolSpecSchema,
  status: Type.Optional(ExecutorPoolStatusSchema),
});

/** `spec` as written by users (defaulted fields optional). */
export type ExecutorPoolSpec = Static<typeof ExecutorPoolSpecSchema>;
export type ExecutorPoolStatus = Static<typeof ExecutorPoolStatusSchema>;
export type ExecutorPool = Static<typeof ExecutorPoolSchema>;
export type ScalingPolicy = Static<typeof ScalingPolicySchema>;

/** A quantity after defaulting: always a string. */
export interface ResolvedResourceList {
  cpu: string;
  memory: string;
}
/** `spec` after {@link applyPoolDefaults}: every defaulted field present, resources complete. */
export type ResolvedPoolSpec = Omit<Resolved<typeof ExecutorPoolSpecSchema>, 'resources'> & {
  resources: { requests: ResolvedResourceList; limits: ResolvedResourceList };
};
export type ResolvedPool = Omit<ExecutorPool, 'spec'> & { spec: ResolvedPoolSpec };
