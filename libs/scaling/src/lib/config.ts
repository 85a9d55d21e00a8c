import { Value } from '@sinclair/typebox/value';
import type { TSchema } from '@sinclair/typebox';
import {
  HPA_DEFAULT_TOLERANCE,
  SEED_QUEUE_DEPTH_SCALE_DOWN_PER_POD,
  SEED_QUEUE_DEPTH_SCALE_UP_PER_POD,
  SEED_SCALE_DOWN_CPU_UTILIZATION_PERCENTAGE,
  SEED_SCALE_DOWN_PERCENT,
  SEED_SCALE_DOWN_PERIOD_SECONDS,
  SEED_SCALE_DOWN_STABILIZATION_WINDOW_SECONDS,
  SEED_SCALE_UP_PERCENT,
  SEED_SCALE_UP_PERIOD_SECONDS,
  SEED_SCALE_UP_STABILIZATION_WINDOW_SECONDS,
  SEED_TARGET_CPU_UTILIZATION_PERCENTAGE,
  DEFAULT_SCALING_METRICS,
} from './constants';
import {
  ScalingConfigSchema,
  type PartialScalingBehavior,
  type ResolvedScalingConfig,
  type ScalingBehavior,
  type ScalingConfig,
  type ScalingRules,
} from './types';

/** The seed's behaviour: scale up +100% per 15 s (60 s window), scale down −10% per 60 s (300 s window). */
export const DEFAULT_BEHAVIOR: ScalingBehavior = Object.freeze({
  scaleUp: Object.freeze({
    stabilizationWindowSeconds: SEED_SCALE_UP_STABILIZATION_WINDOW_SECONDS,
    selectPolicy: 'Max' as const,
    policies: Object.freeze([
      Object.freeze({
        type: 'Percent' as const,
        value: SEED_SCALE_UP_PERCENT,
        periodSeconds: SEED_SCALE_UP_PERIOD_SECONDS,
      }),
    ]) as ScalingRules['policies'],
  }),
  scaleDown: Object.freeze({
    stabilizationWindowSeconds: SEED_SCALE_DOWN_STABILIZATION_WINDOW_SECONDS,
    selectPolicy: 'Max' as const,
    policies: Object.freeze([
      Object.freeze({
        type: 'Percent' as const,
        value: SEED_SCALE_DOWN_PERCENT,
        periodSeconds: SEED_SCALE_DOWN_PERIOD_SECONDS,
      }),
    ]) as ScalingRules['policies'],
  }),
}) as ScalingBehavior;

/** Thrown for a configuration or input that does not fit (message names every offending field). */
export class InvalidScalingInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidScalingInputError';
  }
}

/** Throws {@link InvalidScalingInputError} listing the schema violations of `value`. */
export function assertSchema(schema: TSchema, value: unknown, what: string): void {
  if (Value.Check(schema, value)) return;
  const details = [...Value.Errors(schema, value)].slice(0, 5).map((e) => `${e.path || '/'}: ${e.message}`);
  throw new InvalidScalingInputError(`invalid ${what}: ${details.join('; ')}`);
}

function mergeRules(base: ScalingRules, override: Partial<ScalingRules> | undefined): ScalingRules {
  return {
    stabilizationWindowSeconds: override?.stabilizationWindowSeconds ?? base.stabilizationWindowSeconds,
    selectPolicy: override?.selectPolicy ?? base.selectPolicy,
    policies: (override?.policies ?? base.policies).map((p) => ({ ...p })),
  };
}

/** `behavior` with every missing field taken from {@link DEFAULT_BEHAVIOR}. */
export function resolveBehavior(behavior: PartialScalingBehavior | undefined): ScalingBehavior {
  return {
    scaleUp: mergeRules(DEFAULT_BEHAVIOR.scaleUp, behavior?.scaleUp),
    scaleDown: mergeRules(DEFAULT_BEHAVIOR.scaleDown, behavior?.scaleDown),
  };
}

/** Validates `config` (TypeBox + cross-field rules) and applies the seed defaults. */
export function resolveScalingConfig(config: ScalingConfig | ResolvedScalingConfig): ResolvedScalingConfig {
  assertSchema(ScalingConfigSchema, config, 'scaling config');
  const resolved: ResolvedScalingConfig = {
    minReplicas: config.minReplicas,
    maxReplicas: config.maxReplicas,
    targetCPUUtilizationPercentage:
      config.targetCPUUtilizationPercentage ?? SEED_TARGET_CPU_UTILIZATION_PERCENTAGE,
    scaleDownCPUUtilizationPercentage:
      config.scaleDownCPUUtilizationPercentage ?? SEED_SCALE_DOWN_CPU_UTILIZATION_PERCENTAGE,
    queueDepthScaleUpPerPod: config.queueDepthScaleUpPerPod ?? SEED_QUEUE_DEPTH_SCALE_UP_PER_POD,
    queueDepthScaleDownPerPod: config.queueDepthScaleDownPerPod ?? SEED_QUEUE_DEPTH_SCALE_DOWN_PER_POD,
    tolerance: config.tolerance ?? HPA_DEFAULT_TOLERANCE,
    scaleDownGate: config.scaleDownGate ?? true,
    behavior: resolveBehavior(config.behavior),
    metrics: [...(config.metrics ?? DEFAULT_SCALING_METRICS)],
  };
  const problems: string[] = [];
  if (resolved.maxReplicas < resolved.minReplicas) problems.push('/maxReplicas: must be >= minReplicas');
  if (resolved.scaleDownCPUUtilizationPercentage >= resolved.targetCPUUtilizationPercentage) {
    problems.push('/scaleDownCPUUtilizationPercentage: must be below targetCPUUtilizationPercentage');
  }
  if (resolved.queueDepthScaleDownPerPod >= resolved.queueDepthScaleUpPerPod) {
    problems.push('/queueDepthScaleDownPerPod: must be below queueDepthScaleUpPerPod');
  }
  if (problems.length > 0)
    throw new InvalidScalingInputError(`invalid scaling config: ${problems.join('; ')}`);
  return resolved;
}
