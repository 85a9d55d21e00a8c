/**
 * Pure ports of the Kubernetes HPA controller (pkg/controller/podautoscaler, autoscaling/v2 with
 * `behavior`), function by function. Time is epoch ms; "After"/"Before" are strict as in Go's time.Time.
 * Arithmetic is IEEE double like Go's float64, so rounding matches upstream bit for bit.
 */
import type { ScalingRules, TimestampedRecommendation, TimestampedScaleEvent } from './types';

/**
 * replica_calculator.go `GetResourceReplicas` (all pods ready, none missing): `utilization` is the
 * average utilization in whole percent (upstream truncates `metricsTotal*100/requestsTotal`).
 */
export function resourceUtilizationReplicas(
  currentReplicas: number,
  utilizationPercent: number,
  targetUtilization: number,
  tolerance: number,
): number {
  const utilization = Math.trunc(utilizationPercent);
  const usageRatio = utilization / targetUtilization;
  if (Math.abs(1.0 - usageRatio) <= tolerance) return currentReplicas;
  return Math.ceil(usageRatio * currentReplicas);
}

/** replica_calculator.go `GetExternalPerPodMetricReplicas` (External metric, `AverageValue` target). */
export function externalPerPodReplicas(
  statusReplicas: number,
  usage: number,
  targetPerPod: number,
  tolerance: number,
): number {
  const usageRatio = usage / (targetPerPod * statusReplicas);
  if (Math.abs(1.0 - usageRatio) > tolerance) return Math.ceil(usage / targetPerPod);
  return statusReplicas;
}

export interface StabilizationResult {
  recommendation: number;
  recommendations: TimestampedRecommendation[];
}

/**
 * horizontal.go `stabilizeRecommendationWithBehaviors`: the stabilized value is the current replica
 * count brought within [min of the scale-up window, max of the scale-down window] (both windows
 * include the new recommendation); the new raw recommendation replaces one sample older than both
 * windows, or is appended.
 */
export function stabilizeRecommendation(
  now: number,
  currentReplicas: number,
  desiredReplicas: number,
  recommendations: readonly TimestampedRecommendation[],
  scaleUp: ScalingRules,
  scaleDown: ScalingRules,
): StabilizationResult {
  const upCutoff = now - scaleUp.stabilizationWindowSeconds * 1000;
  const downCutoff = now - scaleDown.stabilizationWindowSeconds * 1000;
  let upRecommendation = desiredReplicas;
  let downRecommendation = desiredReplicas;
  let oldSampleIndex = -1;
  recommendations.forEach((rec, i) => {
    if (rec.at > upCutoff) upRecommendation = Math.min(rec.replicas, upRecommendation);
    if (rec.at > downCutoff) downRecommendation = Math.max(rec.replicas, downRecommendation);
    if (rec.at < upCutoff && rec.at < downCutoff) oldSampleIndex = i;
  });
  let recommendation = currentReplicas;
  if (recommendation < upRecommendation) recommendation = upRecommendation;
  if (recommendation > downRecommendation) recommendation = downRecommendation;
  const next = recommendations.map((r) => ({ ...r }));
  const sample = { at: now, replicas: desiredReplicas };
  if (oldSampleIndex >= 0) next[oldSampleIndex] = sample;
  else next.push(sample);
  return { recommendation, recommendations: next };
}

/** horizontal.go `getReplicasChangePerPeriod`: sum of changes of events strictly after now − period. */
export function replicasChangePerPeriod(
  now: number,
  periodSeconds: number,
  events: readonly TimestampedScaleEvent[],
): number {
  const cutoff = now - periodSeconds * 1000;
  let replicas = 0;
  for (const e of events) if (e.at > cutoff) replicas += e.change;
  return replicas;
}

/** horizontal.go `calculateScaleUpLimitWithScalingRules`. */
export function calculateScaleUpLimit(
  now: number,
  currentReplicas: number,
  scaleUpEvents: readonly TimestampedScaleEvent[],
  scaleDownEvents: readonly TimestampedScaleEvent[],
  rules: ScalingRules,
): number {
  if (rules.selectPolicy === 'Disabled') return currentReplicas;
  const useMin = rules.selectPolicy === 'Min';
  let result = useMin ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
  for (const policy of rules.policies) {
    const added = replicasChangePerPeriod(now, policy.periodSeconds, scaleUpEvents);
    const deleted = replicasChangePerPeriod(now, policy.periodSeconds, scaleDownEvents);
    const periodStartReplicas = currentReplicas - added + deleted;
    const proposed =
      policy.type === 'Pods'
        ? periodStartReplicas + policy.value
        : Math.ceil(periodStartReplicas * (1 + policy.value / 100));
    result = useMin ? Math.min(result, proposed) : Math.max(result, proposed);
  }
  return result;
}

/** horizontal.go `calculateScaleDownLimitWithBehaviors` (Go's `int32(x)` truncates toward zero). */
export function calculateScaleDownLimit(
  now: number,
  currentReplicas: number,
  scaleUpEvents: readonly TimestampedScaleEvent[],
  scaleDownEvents: readonly TimestampedScaleEvent[],
  rules: ScalingRules,
): number {
  if (rules.selectPolicy === 'Disabled') return currentReplicas;
  const useMin = rules.selectPolicy === 'Min';
  let result = useMin ? Number.MIN_SAFE_INTEGER : Number.MAX_SAFE_INTEGER;
  for (const policy of rules.policies) {
    const added = replicasChangePerPeriod(now, policy.periodSeconds, scaleUpEvents);
    const deleted = replicasChangePerPeriod(now, policy.periodSeconds, scaleDownEvents);
    const periodStartReplicas = currentReplicas - added + deleted;
    const proposed =
      policy.type === 'Pods'
        ? periodStartReplicas - policy.value
        : Math.trunc(periodStartReplicas * (1 - policy.value / 100));
    // Min policy = the smallest change = the highest replica count when scaling down
    result = useMin ? Math.max(result, proposed) : Math.min(result, proposed);
  }
  return result;
}

/** Why the rate/bounds step changed the stabilized recommendation (HPA `ScalingLimited` reasons). */
export const LimitReason = {
  ScaleUpStabilized: 'ScaleUpStabilized',
  ScaleDownStabilized: 'ScaleDownStabilized',
  ScaleUpLimit: 'ScaleUpLimit',
  ScaleDownLimit: 'ScaleDownLimit',
  TooManyReplicas: 'TooManyReplicas',
  TooFewReplicas: 'TooFewReplicas',
} as const;
export type LimitReason = (typeof LimitReason)[keyof typeof LimitReason];

export interface RateLimitArgs {
  now: number;
  currentReplicas: number;
  desiredReplicas: number;
  minReplicas: number;
  maxReplicas: number;
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
  scaleUpEvents: readonly TimestampedScaleEvent[];
  scaleDownEvents: readonly TimestampedScaleEvent[];
}

/** horizontal.go `convertDesiredReplicasWithBehaviorRate`: rate limits plus the min/max clamp. */
export function convertDesiredReplicasWithBehaviorRate(args: RateLimitArgs): {
  replicas: number;
  limitedBy?: LimitReason;
} {
  const { now, currentReplicas: current, desiredReplicas: desired } = args;
  if (desired > current) {
    let scaleUpLimit = calculateScaleUpLimit(
      now,
      current,
      args.scaleUpEvents,
      args.scaleDownEvents,
      args.scaleUp,
    );
    if (scaleUpLimit < current) scaleUpLimit = current; // no further scale-up until old events age out
    const limitedByRate = args.maxReplicas > scaleUpLimit;
    const maximumAllowed = limitedByRate ? scaleUpLimit : args.maxReplicas;
    if (desired > maximumAllowed) {
      return {
        replicas: maximumAllowed,
        limitedBy: limitedByRate ? LimitReason.ScaleUpLimit : LimitReason.TooManyReplicas,
      };
    }
  } else if (desired < current) {
    let scaleDownLimit = calculateScaleDownLimit(
      now,
      current,
      args.scaleUpEvents,
      args.scaleDownEvents,
      args.scaleDown,
    );
    if (scaleDownLimit > current) scaleDownLimit = current;
    const limitedByRate = args.minReplicas < scaleDownLimit;
    const minimumAllowed = limitedByRate ? scaleDownLimit : args.minReplicas;
    if (desired < minimumAllowed) {
      return {
        replicas: minimumAllowed,
        limitedBy: limitedByRate ? LimitReason.ScaleDownLimit : LimitReason.TooFewReplicas,
      };
    }
  }
  return { replicas: desired };
}

function longestPolicyPeriod(rules: ScalingRules): number {
  return rules.policies.reduce((m, p) => Math.max(m, p.periodSeconds), 0);
}

/**
 * horizontal.go `storeScaleEvent` + `markScaleEventsOutdated`: events of the scaled direction older than
 * its longest policy period are marked outdated; the new event reuses the last outdated slot or is appended.
 */
export function storeScaleEvent(
  now: number,
  events: readonly TimestampedScaleEvent[],
  change: number,
  rules: ScalingRules,
): TimestampedScaleEvent[] {
  const cutoff = now - longestPolicyPeriod(rules) * 1000;
  const next = events.map((e) => ({ ...e, outdated: e.outdated || e.at < cutoff }));
  let oldSampleIndex = -1;
  next.forEach((e, i) => {
    if (e.outdated) oldSampleIndex = i;
  });
  const event: TimestampedScaleEvent = { at: now, change, outdated: false };
  if (oldSampleIndex >= 0) next[oldSampleIndex] = event;
  else next.push(event);
  return next;
}
