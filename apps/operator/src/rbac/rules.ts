import { GROUP, PLURALS } from '@executor/crd';

/** One ClusterRole rule, with why the operator needs it (written into the generated YAML). */
export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: ('get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete')[];
  why: string;
}

/**
 * THE list of permissions of the operator (least privilege): `nx run operator:generate-rbac` turns it
 * into k8s/config/rbac/operator-rbac.generated.yaml, and the k8s test suite runs the operator with
 * exactly these rules (as the executor-operator ServiceAccount), so a missing rule fails a test.
 */
export const OPERATOR_RULES: readonly RbacRule[] = [
  {
    apiGroups: [GROUP],
    resources: [PLURALS.pool],
    verbs: ['get', 'list', 'watch'],
    why: 'pool informer; the External metrics API reads the pools of a namespace',
  },
  {
    apiGroups: [GROUP],
    resources: [`${PLURALS.pool}/status`],
    verbs: ['patch'],
    why: 'pool status (status subresource only)',
  },
  {
    apiGroups: [GROUP],
    resources: [`${PLURALS.pool}/scale`],
    verbs: ['patch'],
    why: 'scaling.mode operator: recommended replicas into the pool scale subresource',
  },
  {
    apiGroups: [GROUP],
    resources: [PLURALS.session],
    verbs: ['get', 'list', 'watch', 'create', 'patch', 'delete'],
    why: 'session informer; sessions from load-balancer events (server-side apply); TTL expiry; finalizer removal',
  },
  {
    apiGroups: [GROUP],
    resources: [`${PLURALS.session}/status`],
    verbs: ['patch'],
    why: 'session phase, pod, migrations',
  },
  {
    apiGroups: ['apps'],
    resources: ['deployments'],
    verbs: ['list', 'watch', 'create', 'patch'],
    why: 'executor Deployment (server-side apply); its informer feeds the pool status',
  },
  {
    apiGroups: ['apps'],
    resources: ['deployments/scale'],
    verbs: ['patch'],
    why: 'scaling.mode operator: replicas through the scale subresource',
  },
  {
    apiGroups: [''],
    resources: ['services', 'configmaps'],
    verbs: ['create', 'patch'],
    why: 'pool Service and ConfigMap (server-side apply)',
  },
  {
    apiGroups: [''],
    resources: ['secrets'],
    verbs: ['create', 'patch'],
    why: "pool's Redis Secret <pool>-redis (its executors' own ACL user; server-side apply; never read)",
  },
  {
    apiGroups: [''],
    resources: ['pods'],
    verbs: ['list', 'watch', 'patch'],
    why: 'pod informer (readiness, deletions → migration); pod-deletion-cost annotation; pods of a pool (External metrics API)',
  },
  {
    apiGroups: ['policy'],
    resources: ['poddisruptionbudgets'],
    verbs: ['create', 'patch'],
    why: 'pool PodDisruptionBudget (server-side apply)',
  },
  {
    apiGroups: ['autoscaling'],
    resources: ['horizontalpodautoscalers'],
    verbs: ['create', 'patch', 'delete'],
    why: 'pool HPA (server-side apply); deleted when the pool switches to scaling.mode operator',
  },
  {
    apiGroups: ['coordination.k8s.io'],
    resources: ['leases'],
    verbs: ['get', 'create', 'update'],
    why: 'leader election',
  },
  {
    apiGroups: ['metrics.k8s.io'],
    resources: ['pods'],
    verbs: ['list'],
    why: 'scaling.mode operator: pod CPU usage (metrics-server), when served',
  },
];
