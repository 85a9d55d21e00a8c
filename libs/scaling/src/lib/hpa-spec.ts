import { Type } from '@sinclair/typebox';
import { assertSchema, resolveBehavior } from './config';
import {
  DEFAULT_QUEUE_DEPTH_METRIC_NAME,
  DEFAULT_SCALING_METRICS,
  SEED_QUEUE_DEPTH_SCALE_UP_PER_POD,
  SEED_TARGET_CPU_UTILIZATION_PERCENTAGE,
  ScalingMetric,
  queueDepthSelector,
} from './constants';
import {
  PartialScalingBehaviorSchema,
  ScalingMetricsSchema,
  type PartialScalingBehavior,
  type ScalingBehavior,
} from './types';

/** What `toHpaSpec` needs from a pool. */
export interface HpaPoolInput {
  /** Name of the pool's Deployment (the scale target). */
  name: string;
  /** Namespace, used only by `toHpaManifest` (metadata). */
  namespace?: string;
  minReplicas: number;
  maxReplicas: number;
  /** Default 70 (seed). */
  targetCPUUtilizationPercentage?: number;
  /** Default 10 (seed): External metric AverageValue target, jobs per pod. */
  queueDepthScaleUpPerPod?: number;
  /** Default DEFAULT_BEHAVIOR (seed); missing fields are filled from it. */
  behavior?: PartialScalingBehavior;
  /** Default `executor_pool_queue_depth`. */
  metricName?: string;
  /** Labels selecting the pool's series of the External metric. Default `{ pool: name }`. */
  metricSelector?: Record<string, string>;
  /**
   * Metrics the HPA scales on. Default both (`['cpu', 'queueDepth']`); `['queueDepth']` for clusters
   * without metrics.k8s.io (metrics-server), where a CPU metric could never be read.
   */
  metrics?: ScalingMetric[];
}

const DNS1123 = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

const HpaPoolInputSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 253, pattern: DNS1123 }),
    namespace: Type.Optional(Type.String({ minLength: 1, maxLength: 63, pattern: DNS1123 })),
    minReplicas: Type.Integer({ minimum: 1 }),
    maxReplicas: Type.Integer({ minimum: 1 }),
    targetCPUUtilizationPercentage: Type.Optional(Type.Integer({ minimum: 1 })),
    queueDepthScaleUpPerPod: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    behavior: Type.Optional(PartialScalingBehaviorSchema),
    metricName: Type.Optional(Type.String({ minLength: 1 })),
    metricSelector: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.String())),
    metrics: Type.Optional(ScalingMetricsSchema),
  },
  { additionalProperties: false },
);

/** `MetricTarget` of autoscaling/v2 (and v2beta2). */
export interface HpaMetricTarget {
  type: 'Utilization' | 'AverageValue' | 'Value';
  averageUtilization?: number;
  averageValue?: string;
  value?: string;
}

export type HpaMetricSpec =
  | { type: 'Resource'; resource: { name: string; target: HpaMetricTarget } }
  | {
      type: 'External';
      external: {
        metric: { name: string; selector?: { matchLabels: Record<string, string> } };
        target: HpaMetricTarget;
      };
    };

/** `HorizontalPodAutoscalerSpec` of autoscaling/v2 — field for field the same in autoscaling/v2beta2 (≥ 1.18). */
export interface HpaSpec {
  scaleTargetRef: { apiVersion: string; kind: string; name: string };
  minReplicas: number;
  maxReplicas: number;
  metrics: HpaMetricSpec[];
  behavior: ScalingBehavior;
}

export const HPA_API_VERSION_V2 = 'autoscaling/v2';
export const HPA_API_VERSION_V2BETA2 = 'autoscaling/v2beta2';
export type HpaApiVersion = typeof HPA_API_VERSION_V2 | typeof HPA_API_VERSION_V2BETA2;

export interface HpaManifest {
  apiVersion: HpaApiVersion;
  kind: 'HorizontalPodAutoscaler';
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: HpaSpec;
}

/** A number as a Kubernetes quantity string: integers as is ("10"), fractions in milli-units ("2500m"). */
export function toQuantity(n: number): string {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`cannot express ${n} as a quantity`);
  if (Number.isInteger(n)) return String(n);
  return `${Math.round(n * 1000)}m`;
}

/**
 * The `spec` of the pool's HorizontalPodAutoscaler (autoscaling/v2): CPU Resource metric with a
 * Utilization target, queue depth as an External metric with an AverageValue target (per pod) — each
 * only when in `pool.metrics` (default both) — and the behaviour. It cannot express the seed's scale-down gate (see README.md).
 */
export function toHpaSpec(pool: HpaPoolInput): HpaSpec {
  assertSchema(HpaPoolInputSchema, pool, 'HPA pool input');
  if (pool.maxReplicas < pool.minReplicas) {
    throw new RangeError(
      `invalid HPA pool input: /maxReplicas: must be >= minReplicas (${pool.minReplicas})`,
    );
  }
  const use = pool.metrics ?? DEFAULT_SCALING_METRICS;
  const metrics: HpaMetricSpec[] = [];
  if (use.includes(ScalingMetric.Cpu)) {
    metrics.push({
      type: 'Resource',
      resource: {
        name: 'cpu',
        target: {
          type: 'Utilization',
          averageUtilization: pool.targetCPUUtilizationPercentage ?? SEED_TARGET_CPU_UTILIZATION_PERCENTAGE,
        },
      },
    });
  }
  if (use.includes(ScalingMetric.QueueDepth)) {
    metrics.push({
      type: 'External',
      external: {
        metric: {
          name: pool.metricName ?? DEFAULT_QUEUE_DEPTH_METRIC_NAME,
          selector: { matchLabels: { ...(pool.metricSelector ?? queueDepthSelector(pool.name)) } },
        },
        target: {
          type: 'AverageValue',
          averageValue: toQuantity(pool.queueDepthScaleUpPerPod ?? SEED_QUEUE_DEPTH_SCALE_UP_PER_POD),
        },
      },
    });
  }
  return {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: pool.name },
    minReplicas: pool.minReplicas,
    maxReplicas: pool.maxReplicas,
    metrics,
    behavior: resolveBehavior(pool.behavior),
  };
}

/**
 * The same spec for `autoscaling/v2beta2` (Kubernetes 1.12–1.25; `behavior` since 1.18), for clusters
 * without autoscaling/v2 (< 1.23, e.g. the 1.20 test API server). Every field used here has the same
 * name, shape and meaning in both versions, so the object is identical; only the apiVersion differs.
 */
export function toHpaSpecV2beta2(pool: HpaPoolInput): HpaSpec {
  return toHpaSpec(pool);
}

/** A complete HorizontalPodAutoscaler object named after the pool, for `apiVersion`. */
export function toHpaManifest(
  pool: HpaPoolInput,
  apiVersion: HpaApiVersion = HPA_API_VERSION_V2,
): HpaManifest {
  if (apiVersion !== HPA_API_VERSION_V2 && apiVersion !== HPA_API_VERSION_V2BETA2) {
    throw new RangeError(
      `unsupported HPA apiVersion "${String(apiVersion)}" (use ${HPA_API_VERSION_V2} or ${HPA_API_VERSION_V2BETA2})`,
    );
  }
  const spec = apiVersion === HPA_API_VERSION_V2BETA2 ? toHpaSpecV2beta2(pool) : toHpaSpec(pool);
  return {
    apiVersion,
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: pool.name, ...(pool.namespace ? { namespace: pool.namespace } : {}) },
    spec,
  };
}
