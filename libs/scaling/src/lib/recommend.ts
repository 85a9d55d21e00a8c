import { Type } from '@sinclair/typebox';
import { assertSchema, resolveScalingConfig } from './config';
import { DEFAULT_QUEUE_DEPTH_METRIC_NAME, ScalingMetric } from './constants';
import {
  LimitReason,
  convertDesiredReplicasWithBehaviorRate,
  externalPerPodReplicas,
  resourceUtilizationReplicas,
  stabilizeRecommendation,
  storeScaleEvent,
} from './hpa-algorithm';
import type { ResolvedScalingConfig, ScalingConfig, ScalingHistory } from './types';

/** The outcome of one `recommendReplicas` call (exported constants). */
export const ScalingReason = {
  /** desired > current. */
  ScaleUp: 'ScaleUp',
  /** desired < current. */
  ScaleDown: 'ScaleDown',
  /** Metrics, stabilization or rate limits keep the current count. */
  NoChange: 'NoChange',
  /** currentReplicas is 0: autoscaling is disabled for the target (as in the HPA). */
  ScalingDisabled: 'ScalingDisabled',
  /** currentReplicas > maxReplicas: set to maxReplicas without looking at metrics. */
  AboveMaxReplicas: 'AboveMaxReplicas',
  /** currentReplicas < minReplicas: set to minReplicas without looking at metrics. */
  BelowMinReplicas: 'BelowMinReplicas',
  /** No metric is available: nothing changes (HPA: FailedComputeMetricsReplicas). */
  MetricsUnavailable: 'MetricsUnavailable',
  /** A metric is missing and the others would scale down: nothing changes (HPA rule). */
  MissingMetricBlocksScaleDown: 'MissingMetricBlocksScaleDown',
  /** Metrics would scale down but CPU/queue are not both below the seed's low thresholds. */
  ScaleDownGated: 'ScaleDownGated',
} as const;
export type ScalingReason = (typeof ScalingReason)[keyof typeof ScalingReason];

export interface RecommendInput {
  /** Time of this sync, epoch milliseconds (e.g. `Date.now()`). */
  now: number;
  /** The target's current `spec.replicas` (all assumed ready). */
  currentReplicas: number;
  /** Average CPU utilization over the pool's pods, % of request; `undefined` when the metric is missing. */
  cpuUtilizationPercent?: number;
  /** Total jobs waiting in the pool's queue; `undefined` when the metric is missing. */
  queueDepth?: number;
  config: ScalingConfig | ResolvedScalingConfig;
  /**
   * The `history` returned by the previous call for this pool. Omit it only on the very first call:
   * like the HPA controller, that call records the current count as a recommendation.
   */
  history?: ScalingHistory;
}

export interface MetricsDesired {
  /** Replicas the CPU metric asks for (HPA Resource metric, Utilization target); absent when missing. */
  cpu?: number;
  /** Replicas the queue-depth metric asks for (HPA External metric, AverageValue target); absent when missing. */
  queueDepth?: number;
}

export interface Recommendation {
  /** The replica count to set now. */
  desiredReplicas: number;
  reason: ScalingReason;
  /** Human-readable explanation (HPA-style rescale reason or condition message). */
  message: string;
  /** State to pass to the next call. */
  history: ScalingHistory;
  metricsDesired: MetricsDesired;
  /** Max over the available metrics after the scale-down gate: the raw recommendation that was recorded. */
  metricRecommendation?: number;
  /** The recommendation after the stabilization windows, before the rate limits. */
  stabilizedRecommendation?: number;
  /** The last step that changed the value: stabilization, a rate policy, or min/max. */
  limitedBy?: LimitReason;
}

const HistorySchema = Type.Object({
  recommendations: Type.Array(Type.Object({ at: Type.Number(), replicas: Type.Integer({ minimum: 0 }) })),
  scaleUpEvents: Type.Array(
    Type.Object({ at: Type.Number(), change: Type.Integer(), outdated: Type.Boolean() }),
  ),
  scaleDownEvents: Type.Array(
    Type.Object({ at: Type.Number(), change: Type.Integer(), outdated: Type.Boolean() }),
  ),
});

const InputSchema = Type.Object({
  now: Type.Number(),
  currentReplicas: Type.Integer({ minimum: 0 }),
  cpuUtilizationPercent: Type.Optional(Type.Number({ minimum: 0 })),
  queueDepth: Type.Optional(Type.Number({ minimum: 0 })),
  history: Type.Optional(HistorySchema),
});

const CPU_METRIC = 'cpu resource utilization (percentage of request)';
const QUEUE_METRIC = `external metric ${DEFAULT_QUEUE_DEPTH_METRIC_NAME}`;

function cloneHistory(h: ScalingHistory): ScalingHistory {
  return {
    recommendations: h.recommendations.map((r) => ({ ...r })),
    scaleUpEvents: h.scaleUpEvents.map((e) => ({ ...e })),
    scaleDownEvents: h.scaleDownEvents.map((e) => ({ ...e })),
  };
}

function validateInput(input: RecommendInput): void {
  const { config: _config, ...rest } = input;
  for (const key of ['cpuUtilizationPercent', 'queueDepth'] as const) {
    if (rest[key] === null) delete rest[key]; // null is accepted as "missing"
  }
  assertSchema(InputSchema, rest, 'recommendReplicas input');
}

/** Records a scale event in the direction of the change (HPA `storeScaleEvent`). */
function withScaleEvent(
  h: ScalingHistory,
  now: number,
  from: number,
  to: number,
  config: ResolvedScalingConfig,
): ScalingHistory {
  if (to > from)
    return { ...h, scaleUpEvents: storeScaleEvent(now, h.scaleUpEvents, to - from, config.behavior.scaleUp) };
  if (to < from)
    return {
      ...h,
      scaleDownEvents: storeScaleEvent(now, h.scaleDownEvents, from - to, config.behavior.scaleDown),
    };
  return h;
}

function outcome(from: number, to: number): ScalingReason {
  if (to > from) return ScalingReason.ScaleUp;
  if (to < from) return ScalingReason.ScaleDown;
  return ScalingReason.NoChange;
}

function computeMetrics(
  input: RecommendInput,
  config: ResolvedScalingConfig,
): { desired: MetricsDesired; max?: number; metric?: string } {
  const current = input.currentReplicas;
  const desired: MetricsDesired = {};
  let max: number | undefined;
  let metric: string | undefined;
  const useCpu = config.metrics.includes(ScalingMetric.Cpu);
  const useQueue = config.metrics.includes(ScalingMetric.QueueDepth);
  if (useCpu && input.cpuUtilizationPercent != null) {
    desired.cpu = resourceUtilizationReplicas(
      current,
      input.cpuUtilizationPercent,
      config.targetCPUUtilizationPercentage,
      config.tolerance,
    );
    max = desired.cpu;
    metric = CPU_METRIC;
  }
  if (useQueue && input.queueDepth != null) {
    desired.queueDepth = externalPerPodReplicas(
      current,
      input.queueDepth,
      config.queueDepthScaleUpPerPod,
      config.tolerance,
    );
    if (max === undefined || desired.queueDepth > max) {
      max = desired.queueDepth;
      metric = QUEUE_METRIC;
    }
  }
  return { desired, max, metric };
}

/**
 * The seed's scale-down condition: CPU < low AND depth per pod < low (every configured metric must be
 * present; a metric left out of `config.metrics` is not part of it).
 */
function scaleDownAllowedByGate(input: RecommendInput, config: ResolvedScalingConfig): boolean {
  if (!config.scaleDownGate) return true;
  if (config.metrics.includes(ScalingMetric.Cpu)) {
    if (input.cpuUtilizationPercent == null) return false;
    if (!(input.cpuUtilizationPercent < config.scaleDownCPUUtilizationPercentage)) return false;
  }
  if (config.metrics.includes(ScalingMetric.QueueDepth)) {
    if (input.queueDepth == null) return false;
    if (!(input.queueDepth / input.currentReplicas < config.queueDepthScaleDownPerPod)) return false;
  }
  return true;
}

/**
 * One HPA sync (autoscaling/v2 with `behavior`), as a pure function: per-metric proposals with
 * tolerance, max across metrics, the missing-metric rule, the seed's scale-down gate, the
 * stabilization windows, the rate policies (selectPolicy) and the min/max clamp. See README.md.
 */
export function recommendReplicas(input: RecommendInput): Recommendation {
  const config = resolveScalingConfig(input.config);
  validateInput(input);
  const { now, currentReplicas: current } = input;
  let history: ScalingHistory = input.history
    ? cloneHistory(input.history)
    : { recommendations: [{ at: now, replicas: current }], scaleUpEvents: [], scaleDownEvents: [] };

  const hold = (
    reason: ScalingReason,
    message: string,
    metricsDesired: MetricsDesired = {},
  ): Recommendation => ({
    desiredReplicas: current,
    reason,
    message,
    history,
    metricsDesired,
  });
  const clampTo = (target: number, reason: ScalingReason, message: string): Recommendation => ({
    desiredReplicas: target,
    reason,
    message,
    history: withScaleEvent(history, now, current, target, config),
    metricsDesired: {},
  });

  if (current === 0)
    return hold(
      ScalingReason.ScalingDisabled,
      'scaling is disabled since the replica count of the target is zero',
    );
  if (current > config.maxReplicas)
    return clampTo(
      config.maxReplicas,
      ScalingReason.AboveMaxReplicas,
      'Current number of replicas above Spec.MaxReplicas',
    );
  if (current < config.minReplicas)
    return clampTo(
      config.minReplicas,
      ScalingReason.BelowMinReplicas,
      'Current number of replicas below Spec.MinReplicas',
    );

  const metrics = computeMetrics(input, config);
  const configured = config.metrics.length;
  const missing =
    (config.metrics.includes(ScalingMetric.Cpu) && metrics.desired.cpu === undefined ? 1 : 0) +
    (config.metrics.includes(ScalingMetric.QueueDepth) && metrics.desired.queueDepth === undefined ? 1 : 0);
  if (metrics.max === undefined) {
    return hold(
      ScalingReason.MetricsUnavailable,
      `invalid metrics (${configured} invalid out of ${configured}): no metric available`,
    );
  }
  if (missing > 0 && metrics.max < current) {
    return hold(
      ScalingReason.MissingMetricBlocksScaleDown,
      `invalid metrics (${missing} invalid out of ${configured}): a metric is missing and the others would scale down`,
      metrics.desired,
    );
  }

  let raw = metrics.max;
  let gated = false;
  if (raw < current && !scaleDownAllowedByGate(input, config)) {
    raw = current;
    gated = true;
  }

  const { scaleUp, scaleDown } = config.behavior;
  const stabilized = stabilizeRecommendation(now, current, raw, history.recommendations, scaleUp, scaleDown);
  history = { ...history, recommendations: stabilized.recommendations };
  let limitedBy: LimitReason | undefined;
  if (stabilized.recommendation !== raw) {
    limitedBy = raw >= current ? LimitReason.ScaleUpStabilized : LimitReason.ScaleDownStabilized;
  }
  const rate = convertDesiredReplicasWithBehaviorRate({
    now,
    currentReplicas: current,
    desiredReplicas: stabilized.recommendation,
    minReplicas: config.minReplicas,
    maxReplicas: config.maxReplicas,
    scaleUp,
    scaleDown,
    scaleUpEvents: history.scaleUpEvents,
    scaleDownEvents: history.scaleDownEvents,
  });
  if (rate.limitedBy) limitedBy = rate.limitedBy;
  const desiredReplicas = rate.replicas;
  history = withScaleEvent(history, now, current, desiredReplicas, config);

  let reason = outcome(current, desiredReplicas);
  let message: string;
  if (gated) {
    reason = ScalingReason.ScaleDownGated;
    const needs = [
      ...(config.metrics.includes(ScalingMetric.Cpu)
        ? [`CPU < ${config.scaleDownCPUUtilizationPercentage}%`]
        : []),
      ...(config.metrics.includes(ScalingMetric.QueueDepth)
        ? [`queue depth < ${config.queueDepthScaleDownPerPod}/pod`]
        : []),
    ];
    message = `metrics ask for ${metrics.max} but scale-down needs ${needs.join(' and ')}`;
  } else if (raw > current) {
    message = `${metrics.metric} above target`;
  } else if (raw < current) {
    message = 'All metrics below target';
  } else {
    message = 'recommended size matches current size';
  }
  return {
    desiredReplicas,
    reason,
    message,
    history,
    metricsDesired: metrics.desired,
    metricRecommendation: raw,
    stabilizedRecommendation: stabilized.recommendation,
    limitedBy,
  };
}
