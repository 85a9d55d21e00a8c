import { Type, type Static } from '@sinclair/typebox';
import { ScalingMetric } from './constants';

/** One or both of the scaling metrics, each at most once. */
export const ScalingMetricsSchema = Type.Array(
  Type.Union([Type.Literal(ScalingMetric.Cpu), Type.Literal(ScalingMetric.QueueDepth)]),
  { minItems: 1, maxItems: 2, uniqueItems: true },
);

/** `HPAScalingPolicyType` of autoscaling/v2. */
export const ScalingPolicyType = { Pods: 'Pods', Percent: 'Percent' } as const;
export type ScalingPolicyType = (typeof ScalingPolicyType)[keyof typeof ScalingPolicyType];

/** `ScalingPolicySelect` of autoscaling/v2. */
export const SelectPolicy = { Max: 'Max', Min: 'Min', Disabled: 'Disabled' } as const;
export type SelectPolicy = (typeof SelectPolicy)[keyof typeof SelectPolicy];

/** Same bounds as the Kubernetes API validation of `HPAScalingPolicy` / `HPAScalingRules`. */
export const ScalingPolicySchema = Type.Object(
  {
    type: Type.Union([Type.Literal('Pods'), Type.Literal('Percent')]),
    value: Type.Integer({ minimum: 1 }),
    periodSeconds: Type.Integer({ minimum: 1, maximum: 1800 }),
  },
  { additionalProperties: false },
);
export type ScalingPolicy = Static<typeof ScalingPolicySchema>;

export const ScalingRulesSchema = Type.Object(
  {
    stabilizationWindowSeconds: Type.Integer({ minimum: 0, maximum: 3600 }),
    selectPolicy: Type.Union([Type.Literal('Max'), Type.Literal('Min'), Type.Literal('Disabled')]),
    policies: Type.Array(ScalingPolicySchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type ScalingRules = Static<typeof ScalingRulesSchema>;

export const ScalingBehaviorSchema = Type.Object(
  { scaleUp: ScalingRulesSchema, scaleDown: ScalingRulesSchema },
  { additionalProperties: false },
);
export type ScalingBehavior = Static<typeof ScalingBehaviorSchema>;

/** Behaviour as given by a user: each direction and each field optional (missing ones come from the seed). */
export const PartialScalingBehaviorSchema = Type.Object(
  {
    scaleUp: Type.Optional(Type.Partial(ScalingRulesSchema)),
    scaleDown: Type.Optional(Type.Partial(ScalingRulesSchema)),
  },
  { additionalProperties: false },
);
export type PartialScalingBehavior = Static<typeof PartialScalingBehaviorSchema>;

export const ScalingConfigSchema = Type.Object(
  {
    minReplicas: Type.Integer({ minimum: 1 }),
    maxReplicas: Type.Integer({ minimum: 1 }),
    targetCPUUtilizationPercentage: Type.Optional(Type.Integer({ minimum: 1 })),
    scaleDownCPUUtilizationPercentage: Type.Optional(Type.Number({ minimum: 0 })),
    queueDepthScaleUpPerPod: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    queueDepthScaleDownPerPod: Type.Optional(Type.Number({ minimum: 0 })),
    tolerance: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    scaleDownGate: Type.Optional(Type.Boolean()),
    behavior: Type.Optional(PartialScalingBehaviorSchema),
    metrics: Type.Optional(ScalingMetricsSchema),
  },
  { additionalProperties: false },
);

/**
 * Autoscaling configuration of one pool. Every optional field defaults to the seed:
 * - `minReplicas` / `maxReplicas`: replica bounds (integers, 1 ≤ min ≤ max).
 * - `targetCPUUtilizationPercentage` (70): the HPA CPU target (average utilization, % of request).
 * - `scaleDownCPUUtilizationPercentage` (30): the seed's low CPU threshold (scale-down gate only).
 * - `queueDepthScaleUpPerPod` (10): the HPA External metric target (AverageValue, jobs per pod).
 * - `queueDepthScaleDownPerPod` (5): the seed's low queue threshold (scale-down gate only).
 * - `tolerance` (0.1): the HPA tolerance (no change while |1 − usage/target| ≤ tolerance).
 * - `scaleDownGate` (true): block any scale-down unless CPU < low AND depth/pod < low (see README).
 * - `behavior` (DEFAULT_BEHAVIOR): HPA `spec.behavior`; missing fields are taken from the seed.
 * - `metrics` (`['cpu', 'queueDepth']`): the metrics scaled on; a metric left out is not read at all
 *   (it is neither "missing" nor part of the scale-down gate).
 */
export type ScalingConfig = Static<typeof ScalingConfigSchema>;

/** A {@link ScalingConfig} with every default applied (what the algorithm reads). */
export interface ResolvedScalingConfig {
  minReplicas: number;
  maxReplicas: number;
  targetCPUUtilizationPercentage: number;
  scaleDownCPUUtilizationPercentage: number;
  queueDepthScaleUpPerPod: number;
  queueDepthScaleDownPerPod: number;
  tolerance: number;
  scaleDownGate: boolean;
  behavior: ScalingBehavior;
  metrics: ScalingMetric[];
}

/** An unstabilized recommendation, as the HPA controller keeps them (`timestampedRecommendation`). */
export interface TimestampedRecommendation {
  /** Epoch ms. */
  at: number;
  replicas: number;
}

/** A scale event, as the HPA controller keeps them (`timestampedScaleEvent`); `change` is always positive. */
export interface TimestampedScaleEvent {
  /** Epoch ms. */
  at: number;
  change: number;
  /** Older than the longest policy period of its direction: its slot is reused by the next event. */
  outdated: boolean;
}

/** State carried between calls of `recommendReplicas` (JSON-serialisable; persist it per pool). */
export interface ScalingHistory {
  recommendations: TimestampedRecommendation[];
  scaleUpEvents: TimestampedScaleEvent[];
  scaleDownEvents: TimestampedScaleEvent[];
}
