import { createHash } from 'node:crypto';
import { API_VERSION, KIND_POOL, ScalingMode, type ResolvedPool } from '@executor/crd';
import { templateImage } from '@executor/templates';
import { queueDepthSelector, toHpaSpec, toHpaSpecV2beta2 } from '@executor/scaling';
import type { KubeObject, OwnerReference } from '../kube/kube-client';
import { CONFIG_HASH_ANNOTATION, LABELS, OPERATOR_NAME, childNames, selectorLabels } from './names';

/** The executor's health/metrics port (its PORT; /health/live, /health/ready, /metrics). */
export const EXECUTOR_PORT = 8081;
/** The executor drains in-flight jobs for at most this long on SIGTERM (its SHUTDOWN_TIMEOUT_MS). */
export const EXECUTOR_SHUTDOWN_TIMEOUT_SECONDS = 60;
/** preStop sleep: routers drop the pod (its heartbeat stops accepting) before SIGTERM. */
export const PRESTOP_SLEEP_SECONDS = 5;
/** preStop + drain + final snapshots of every session (snapshot budget 30 s). */
export const TERMINATION_GRACE_PERIOD_SECONDS =
  PRESTOP_SLEEP_SECONDS + EXECUTOR_SHUTDOWN_TIMEOUT_SECONDS + 30;
/** Key of the pool's Redis Secret holding the executors' REDIS_URL. */
export const POOL_REDIS_SECRET_KEY = 'url';
export const WORKSPACE_MOUNT = '/workspace';

/**
 * The executor container's security context (PLAN D2; k8s/README.md "Executor pods" says the same
 * for operators). The executor is the sandbox's supervisor, not the sandbox: session code runs in
 * bubblewrap (own user/pid/mount/ipc/uts namespaces, no capabilities, its own seccomp filter at
 * least as strict as Docker's default, its own uid, its own cgroup), never with these privileges.
 * - `runAsUser: 0`: a root executor gives each session its own uid (`SANDBOX_UID_BASE + slot`), so
 *   sessions are separated by file permissions and RLIMIT_NPROC, and it mounts the per-slot tmpfs
 *   (workspace quota).
 * - `privileged: true`: runc masks parts of /proc (kcore, keys, sysrq-trigger, read-only /proc/sys),
 *   and the kernel refuses the fresh /proc that bubblewrap mounts in the session's pid namespace
 *   while any part of proc is masked; containerd also mounts cgroupfs read-only in unprivileged
 *   containers, so the per-session memory/pids cgroups (nested under the container's own cgroup,
 *   whose limits still apply) could not be written. RuntimeDefault seccomp blocks the namespace
 *   syscalls bubblewrap needs; SYS_ADMIN alone still fails on the fresh /proc.
 *   (`procMount: Unmasked` would avoid privileged, but is alpha behind the ProcMountType gate and
 *   leaves cgroupfs read-only.)
 * - `allowPrivilegeEscalation` cannot be false with privileged; seccomp `Unconfined` says what
 *   privileged means anyway.
 * - `readOnlyRootFilesystem`, `automountServiceAccountToken: false` (executors never call the API),
 *   `enableServiceLinks: false`: nothing else is granted; writable places are the emptyDirs.
 */
export const EXECUTOR_SECURITY_CONTEXT = {
  runAsUser: 0,
  runAsGroup: 0,
  runAsNonRoot: false,
  privileged: true,
  allowPrivilegeEscalation: true,
  readOnlyRootFilesystem: true,
  seccompProfile: { type: 'Unconfined' },
} as const;

/** Cluster facts and operator settings the children depend on. */
export interface BuildContext {
  imageRegistry: string;
  imageTag: string;
  /**
   * `per-pool`: the operator gives each pool its own Redis ACL user and Secret `<pool>-redis`
   * (key `url`); `shared`: every pool uses `redisSecretName`/`redisSecretKey` (a Redis the
   * operator may not manage users on).
   */
  redisUsers: 'per-pool' | 'shared';
  /** Secret (in the pool's namespace) and key holding the executors' REDIS_URL (`shared`). */
  redisSecretName: string;
  redisSecretKey: string;
  queuePrefix: string;
  /** Executor SANDBOX of every pool (RuntimeClass pools too: the pod's runtime is a second boundary, not the only one). */
  sandbox: 'bwrap' | 'none';
  hpaApiVersion: 'autoscaling/v2' | 'autoscaling/v2beta2';
  pdbApiVersion: 'policy/v1' | 'policy/v1beta1';
}

export interface PoolChildren {
  configMap: KubeObject;
  deployment: KubeObject;
  service: KubeObject;
  pdb: KubeObject;
  /** Absent in `scaling.mode: operator`. */
  hpa?: KubeObject;
}

/** The controller ownerReference of every child (garbage-collected with the pool). */
export function ownerReference(pool: ResolvedPool): OwnerReference {
  if (!pool.metadata.uid) throw new Error(`pool ${pool.metadata.name} has no uid yet`);
  return {
    apiVersion: API_VERSION,
    kind: KIND_POOL,
    name: pool.metadata.name,
    uid: pool.metadata.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function labels(pool: ResolvedPool): Record<string, string> {
  return {
    ...selectorLabels(pool.metadata.name),
    [LABELS.instance]: pool.metadata.name,
    [LABELS.component]: 'executor',
    [LABELS.managedBy]: OPERATOR_NAME,
    [LABELS.template]: pool.spec.template,
  };
}

function meta(pool: ResolvedPool, name: string): KubeObject['metadata'] {
  return {
    name,
    namespace: pool.metadata.namespace,
    labels: labels(pool),
    ownerReferences: [ownerReference(pool)],
  };
}

/** Pool settings the executors read (envFrom) plus the whole resolved spec as `pool.json`. */
export function desiredConfigMap(pool: ResolvedPool): KubeObject {
  const s = pool.spec;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(pool, childNames(pool.metadata.name).configMap),
    data: {
      MAX_SESSIONS: String(s.maxSessionsPerPod),
      SNAPSHOT_INTERVAL_SECONDS: String(s.persistence.snapshotIntervalSeconds),
      ALLOW_NETWORK: String(s.networkEgress === 'all'),
      'pool.json': JSON.stringify(
        { name: pool.metadata.name, namespace: pool.metadata.namespace, spec: s },
        null,
        2,
      ),
    },
  };
}

function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/**
 * The executor Deployment. `spec.replicas` is never set here: in hpa mode the HPA owns it, in
 * operator mode the operator writes it through the scale subresource (so no apply fights either).
 */
export function desiredDeployment(pool: ResolvedPool, ctx: BuildContext, configMap: KubeObject): KubeObject {
  const s = pool.spec;
  const name = pool.metadata.name;
  const env = [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'POOL_NAME', value: name },
    { name: 'TEMPLATE', value: s.template },
    { name: 'REGION', value: s.region ?? '' },
    {
      name: 'REDIS_URL',
      valueFrom: {
        secretKeyRef:
          ctx.redisUsers === 'per-pool'
            ? { name: childNames(name).redisSecret, key: POOL_REDIS_SECRET_KEY }
            : { name: ctx.redisSecretName, key: ctx.redisSecretKey },
      },
    },
    { name: 'QUEUE_PREFIX', value: ctx.queuePrefix },
    { name: 'SANDBOX', value: ctx.sandbox },
    { name: 'HOST', value: '0.0.0.0' },
    { name: 'PORT', value: String(EXECUTOR_PORT) },
    { name: 'WORKSPACE_ROOT', value: WORKSPACE_MOUNT },
    { name: 'SHUTDOWN_TIMEOUT_MS', value: String(EXECUTOR_SHUTDOWN_TIMEOUT_SECONDS * 1000) },
    ...(s.env ?? []).map((e) => ({ name: e.name, value: e.value })),
  ];
  const probe = (path: string, period: number, failures: number) => ({
    httpGet: { path, port: 'http' },
    periodSeconds: period,
    timeoutSeconds: 2,
    failureThreshold: failures,
  });
  const podSpec: Record<string, unknown> = {
    terminationGracePeriodSeconds: TERMINATION_GRACE_PERIOD_SECONDS,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: { runAsUser: 0, runAsGroup: 0, runAsNonRoot: false },
    containers: [
      {
        name: 'executor',
        image: s.image ?? templateImage(s.template, { registry: ctx.imageRegistry, tag: ctx.imageTag }),
        imagePullPolicy: 'IfNotPresent',
        ports: [{ name: 'http', containerPort: EXECUTOR_PORT, protocol: 'TCP' }],
        env,
        envFrom: [{ configMapRef: { name: configMap.metadata.name } }],
        resources: { requests: { ...s.resources.requests }, limits: { ...s.resources.limits } },
        readinessProbe: probe('/health/ready', 5, 3),
        livenessProbe: { ...probe('/health/live', 10, 3), initialDelaySeconds: 10 },
        lifecycle: { preStop: { exec: { command: ['sleep', String(PRESTOP_SLEEP_SECONDS)] } } },
        securityContext: structuredClone(EXECUTOR_SECURITY_CONTEXT) as Record<string, unknown>,
        volumeMounts: [
          { name: 'workspace', mountPath: WORKSPACE_MOUNT },
          { name: 'tmp', mountPath: '/tmp' },
        ],
      },
    ],
    volumes: [
      { name: 'workspace', emptyDir: {} },
      { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '256Mi' } },
    ],
  };
  if (s.runtimeClassName) podSpec['runtimeClassName'] = s.runtimeClassName;
  if (s.nodeSelector) podSpec['nodeSelector'] = { ...s.nodeSelector };
  if (s.tolerations) podSpec['tolerations'] = structuredClone(s.tolerations);
  const annotations: Record<string, string> = { [CONFIG_HASH_ANNOTATION]: hashOf(configMap['data']) };
  if (s.metrics.enabled) {
    Object.assign(annotations, {
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(EXECUTOR_PORT),
      'prometheus.io/path': '/metrics',
    });
  }
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(pool, childNames(name).workload),
    spec: {
      selector: { matchLabels: selectorLabels(name) },
      // Keep serving during rollouts: a new pod comes up before an old one (and its sessions) goes.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      revisionHistoryLimit: 3,
      template: { metadata: { labels: labels(pool), annotations }, spec: podSpec },
    },
  };
}

/** ClusterIP Service of the pool's pods (metrics scraping; work reaches pods through their queues). */
export function desiredService(pool: ResolvedPool): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(pool, childNames(pool.metadata.name).workload),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(pool.metadata.name),
      ports: [{ name: 'http', port: EXECUTOR_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/** At most one pod of the pool voluntarily disrupted at a time (drains wait for snapshots). */
export function desiredPdb(pool: ResolvedPool, ctx: BuildContext): KubeObject {
  return {
    apiVersion: ctx.pdbApiVersion,
    kind: 'PodDisruptionBudget',
    metadata: meta(pool, childNames(pool.metadata.name).workload),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(pool.metadata.name) } },
  };
}

/** The pool's HPA: CPU and/or External queue depth per pod (`spec.scaling.metrics`) with the pool's (seed) behaviour, from libs/scaling. */
export function desiredHpa(pool: ResolvedPool, ctx: BuildContext): KubeObject {
  const s = pool.spec;
  const input = {
    name: childNames(pool.metadata.name).workload,
    minReplicas: Math.max(1, s.minReplicas),
    maxReplicas: Math.max(1, s.maxReplicas, s.minReplicas),
    targetCPUUtilizationPercentage: s.targetCPUUtilizationPercentage,
    queueDepthScaleUpPerPod: s.scaleUpQueueDepthPerPod,
    behavior: s.scaling.behavior,
    metricSelector: queueDepthSelector(pool.metadata.name),
    metrics: [...s.scaling.metrics],
  };
  const spec = ctx.hpaApiVersion === 'autoscaling/v2' ? toHpaSpec(input) : toHpaSpecV2beta2(input);
  return {
    apiVersion: ctx.hpaApiVersion,
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(pool, childNames(pool.metadata.name).workload),
    spec,
  };
}

/** Every child of a pool, as the operator applies them (pure: same pool and context → same objects). */
export function desiredChildren(pool: ResolvedPool, ctx: BuildContext): PoolChildren {
  const configMap = desiredConfigMap(pool);
  return {
    configMap,
    deployment: desiredDeployment(pool, ctx, configMap),
    service: desiredService(pool),
    pdb: desiredPdb(pool, ctx),
    ...(pool.spec.scaling.mode === ScalingMode.Hpa ? { hpa: desiredHpa(pool, ctx) } : {}),
  };
}
