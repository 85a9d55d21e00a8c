/** API group of the platform's custom resources. */
export const GROUP = 'executor.ai-orchestrator.io';
/** The only served and stored version. */
export const VERSION = 'v1';
/** `apiVersion` of every resource of this library. */
export const API_VERSION = `${GROUP}/${VERSION}` as const;

export const KIND_POOL = 'ExecutorPool';
export const KIND_SESSION = 'ExecutorSession';

/** Resource plurals (URL path segment; `<plural>.<group>` is the CRD name). */
export const PLURALS = { pool: 'executorpools', session: 'executorsessions' } as const;
export const SINGULARS = { pool: 'executorpool', session: 'executorsession' } as const;
export const LIST_KINDS = { pool: 'ExecutorPoolList', session: 'ExecutorSessionList' } as const;
/** `kubectl get xp` / `kubectl get xs`. */
export const SHORT_NAMES = { pool: ['xp', 'xpool'], session: ['xs', 'xsession'] } as const;
/** `kubectl get executor` lists pools and sessions. */
export const CATEGORIES = ['executor'] as const;

/** CRD object names (`<plural>.<group>`). */
export const CRD_NAMES = {
  pool: `${PLURALS.pool}.${GROUP}`,
  session: `${PLURALS.session}.${GROUP}`,
} as const;

/** Condition types of `ExecutorPool.status.conditions`. */
export const PoolConditionType = {
  /** The pool's Deployment has at least `minReplicas` available pods and the spec is valid. */
  Ready: 'Ready',
  /** A scale operation is in progress (desired replicas ≠ current replicas). */
  Scaling: 'Scaling',
  /** Something is wrong that needs attention: invalid spec, failing reconcile, pods unavailable. */
  Degraded: 'Degraded',
} as const;
export type PoolConditionType = (typeof PoolConditionType)[keyof typeof PoolConditionType];

/** Reasons of pool conditions (CamelCase, as `metav1.Condition.reason`). */
export const PoolConditionReason = {
  /** Permanent: the spec fails validation; the operator does not retry until the spec changes. */
  InvalidSpec: 'InvalidSpec',
  /** Children (Deployment, Service, HPA, ConfigMap, PDB) are being created or updated. */
  Reconciling: 'Reconciling',
  /** Transient: a Kubernetes API call failed; retried with backoff. */
  ReconcileFailed: 'ReconcileFailed',
  /** Enough pods are available. */
  PodsAvailable: 'PodsAvailable',
  /** Fewer than `minReplicas` pods are available. */
  PodsUnavailable: 'PodsUnavailable',
  ScalingUp: 'ScalingUp',
  ScalingDown: 'ScalingDown',
  /** Desired replicas equal current replicas. */
  Stable: 'Stable',
  /** Scaling wants more pods but the pool is at `maxReplicas`. */
  AtMaxReplicas: 'AtMaxReplicas',
  /** No degradation. */
  AsExpected: 'AsExpected',
} as const;
export type PoolConditionReason = (typeof PoolConditionReason)[keyof typeof PoolConditionReason];

/** Reasons after which the operator must not requeue (nothing changes until the spec does). */
export const PERMANENT_POOL_REASONS: readonly PoolConditionReason[] = [PoolConditionReason.InvalidSpec];

/** Lifecycle phases of an `ExecutorSession` (`status.phase`). */
export const SessionPhase = {
  /** Created; not yet bound to a live pod. */
  Pending: 'Pending',
  /** Bound to a live pod and usable. */
  Active: 'Active',
  /** Its pod went away; being reassigned and restored from the latest snapshot. */
  Migrating: 'Migrating',
  /** Idle longer than its TTL; resources are being released. */
  Expired: 'Expired',
  /** Deleted by the client or the operator; terminal. */
  Terminated: 'Terminated',
} as const;
export type SessionPhase = (typeof SessionPhase)[keyof typeof SessionPhase];
export const SESSION_PHASES = Object.values(SessionPhase) as readonly SessionPhase[];
/** Phases a session never leaves. */
export const TERMINAL_SESSION_PHASES: readonly SessionPhase[] = [
  SessionPhase.Expired,
  SessionPhase.Terminated,
];

/** Condition types of `ExecutorSession.status.conditions`. */
export const SessionConditionType = {
  /** Bound to a live pod. */
  Ready: 'Ready',
  /** The latest state is persisted (snapshot stored). */
  Persisted: 'Persisted',
} as const;
export type SessionConditionType = (typeof SessionConditionType)[keyof typeof SessionConditionType];

export const SessionConditionReason = {
  InvalidSpec: 'InvalidSpec',
  Assigned: 'Assigned',
  PodLost: 'PodLost',
  Migrated: 'Migrated',
  MigrationFailed: 'MigrationFailed',
  TTLExpired: 'TTLExpired',
  Deleted: 'Deleted',
  SnapshotStored: 'SnapshotStored',
  SnapshotFailed: 'SnapshotFailed',
  PersistenceDisabled: 'PersistenceDisabled',
} as const;
export type SessionConditionReason = (typeof SessionConditionReason)[keyof typeof SessionConditionReason];

/** Why a session moved between pods (`status.migrations[].reason`). */
export const MigrationReason = {
  PodDeleted: 'PodDeleted',
  HeartbeatLost: 'HeartbeatLost',
  ScaleDown: 'ScaleDown',
  Rebalance: 'Rebalance',
} as const;
export type MigrationReason = (typeof MigrationReason)[keyof typeof MigrationReason];

export const ConditionStatus = { True: 'True', False: 'False', Unknown: 'Unknown' } as const;
export type ConditionStatus = (typeof ConditionStatus)[keyof typeof ConditionStatus];

/** Scaling modes of a pool: an HPA object, or the operator applying the same policy itself. */
export const ScalingMode = { Hpa: 'hpa', Operator: 'operator' } as const;
export type ScalingMode = (typeof ScalingMode)[keyof typeof ScalingMode];

/**
 * Values of `spec.scaling.metrics` (the same names as libs/scaling's `ScalingMetric`, which the operator
 * passes them to; a spec checks that both lists agree — libs/crd is built on its own and imports no lib
 * but templates).
 */
export const ScalingMetricName = { Cpu: 'cpu', QueueDepth: 'queueDepth' } as const;
export type ScalingMetricName = (typeof ScalingMetricName)[keyof typeof ScalingMetricName];

export const NetworkEgress = { None: 'none', All: 'all' } as const;
export type NetworkEgress = (typeof NetworkEgress)[keyof typeof NetworkEgress];

/** Label keys shared by the operator, the samples and the load balancer. */
export const LABEL_KEYS = {
  pool: `${GROUP}/pool`,
  template: `${GROUP}/template`,
  tenant: `${GROUP}/tenant`,
  session: `${GROUP}/session`,
} as const;
