import {
  ConditionStatus,
  PoolConditionReason,
  PoolConditionType,
  type Condition,
  type ExecutorPoolStatus,
  type ResolvedPool,
} from '@executor/crd';
import { rfc3339 } from '../kube/objects';
import { selectorString } from './names';

/** What the operator observed about a pool's children this reconcile. */
export interface PoolObservation {
  /** Deployment `spec.replicas` (desired) and `status.replicas` (current); undefined before it exists. */
  desiredReplicas?: number;
  currentReplicas?: number;
  readyPods: number;
  activeSessions: number;
  /** Undefined until the depth monitor has read the pool once. */
  queueDepth?: number;
}

/** A problem that makes the pool Degraded. */
export interface PoolProblem {
  reason: typeof PoolConditionReason.InvalidSpec | typeof PoolConditionReason.ReconcileFailed;
  message: string;
}

type ConditionInput = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

/** Keeps `lastTransitionTime` of a condition whose status did not change. */
function withTransition(
  prev: readonly Condition[] | undefined,
  c: ConditionInput,
  now: string,
  generation?: number,
): Condition {
  const old = prev?.find((p) => p.type === c.type);
  return {
    ...c,
    lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
}

function readyCondition(pool: ResolvedPool, o: PoolObservation, problem?: PoolProblem): ConditionInput {
  if (problem?.reason === PoolConditionReason.InvalidSpec) {
    return {
      type: PoolConditionType.Ready,
      status: ConditionStatus.False,
      reason: problem.reason,
      message: problem.message,
    };
  }
  const min = pool.spec.minReplicas;
  const ok = o.readyPods >= min;
  return {
    type: PoolConditionType.Ready,
    status: ok ? ConditionStatus.True : ConditionStatus.False,
    reason: ok ? PoolConditionReason.PodsAvailable : PoolConditionReason.PodsUnavailable,
    message: `${o.readyPods} pod(s) ready, minReplicas ${min}`,
  };
}

function scalingCondition(pool: ResolvedPool, o: PoolObservation): ConditionInput {
  const desired = o.desiredReplicas ?? 0;
  const current = o.currentReplicas ?? 0;
  const message = `desired ${desired}, current ${current} (min ${pool.spec.minReplicas}, max ${pool.spec.maxReplicas}, mode ${pool.spec.scaling.mode})`;
  const type = PoolConditionType.Scaling;
  if (desired > current)
    return { type, status: ConditionStatus.True, reason: PoolConditionReason.ScalingUp, message };
  if (desired < current)
    return { type, status: ConditionStatus.True, reason: PoolConditionReason.ScalingDown, message };
  const reason =
    desired >= pool.spec.maxReplicas ? PoolConditionReason.AtMaxReplicas : PoolConditionReason.Stable;
  return { type, status: ConditionStatus.False, reason, message };
}

function degradedCondition(problem?: PoolProblem): ConditionInput {
  return problem
    ? {
        type: PoolConditionType.Degraded,
        status: ConditionStatus.True,
        reason: problem.reason,
        message: problem.message,
      }
    : {
        type: PoolConditionType.Degraded,
        status: ConditionStatus.False,
        reason: PoolConditionReason.AsExpected,
        message: 'reconciled',
      };
}

/**
 * The pool's status from what was observed (pure). With an InvalidSpec problem only the conditions
 * and observedGeneration change (the children were not touched).
 */
export function computePoolStatus(
  pool: ResolvedPool,
  o: PoolObservation,
  now: Date,
  problem?: PoolProblem,
): ExecutorPoolStatus {
  const prev = pool.status;
  const at = rfc3339(now);
  const gen = pool.metadata.generation;
  const conditions: Condition[] = [
    withTransition(prev?.conditions, readyCondition(pool, o, problem), at, gen),
    ...(problem?.reason === PoolConditionReason.InvalidSpec
      ? (prev?.conditions ?? []).filter((c) => c.type === PoolConditionType.Scaling)
      : [withTransition(prev?.conditions, scalingCondition(pool, o), at, gen)]),
    withTransition(prev?.conditions, degradedCondition(problem), at, gen),
  ];
  const status: ExecutorPoolStatus = {
    ...(prev ?? {}),
    conditions,
    ...(gen !== undefined ? { observedGeneration: gen } : {}),
    selector: selectorString(pool.metadata.name),
  };
  if (problem?.reason === PoolConditionReason.InvalidSpec) return status;
  status.replicas = o.currentReplicas ?? 0;
  status.readyReplicas = o.readyPods;
  status.activeSessions = o.activeSessions;
  if (o.queueDepth !== undefined) status.queueDepth = o.queueDepth;
  if (prev?.replicas !== status.replicas) status.lastScaleTime = at;
  return status;
}

/** True when two statuses differ in anything but key order. */
export function statusChanged(a: unknown, b: unknown): boolean {
  return stableJson(a) !== stableJson(b);
}

function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    val && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(
          Object.entries(val as Record<string, unknown>).sort(([x], [y]) => x.localeCompare(y)),
        )
      : val,
  );
}
