import { GROUP } from '@executor/crd';

/** Name of the operator: its field manager, `app.kubernetes.io/managed-by` and the pools' `managedBy`. */
export const OPERATOR_NAME = 'executor-operator';

/** Labels the operator puts on every child of a pool (and on its pods). */
export const LABELS = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  component: 'app.kubernetes.io/component',
  managedBy: 'app.kubernetes.io/managed-by',
  pool: `${GROUP}/pool`,
  template: `${GROUP}/template`,
} as const;

/** Annotation of the pod template holding the hash of the pool's ConfigMap (a change rolls the pods). */
export const CONFIG_HASH_ANNOTATION = `${GROUP}/config-hash`;
/** Scale-down removes pods with the lowest cost first (Kubernetes ≥ 1.22; ignored before). */
export const POD_DELETION_COST_ANNOTATION = 'controller.kubernetes.io/pod-deletion-cost';

/** Names of a pool's children: Deployment, Service, PDB and HPA share the pool's name (different kinds). */
export const childNames = (pool: string): { workload: string; configMap: string; redisSecret: string } => ({
  workload: pool,
  configMap: `${pool}-config`,
  /** The executors' REDIS_URL (their pool's own ACL user), created by the operator. */
  redisSecret: `${pool}-redis`,
});

/** Label selector of a pool's pods (immutable once the Deployment exists). */
export const selectorLabels = (pool: string): Record<string, string> => ({
  [LABELS.name]: 'executor',
  [LABELS.pool]: pool,
});

/** The same as a `labelSelector` query string. */
export const selectorString = (pool: string): string =>
  Object.entries(selectorLabels(pool))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
