import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_QUEUE_PREFIX } from '@executor/queues';
import { TEMPLATE_NAMES } from '@executor/templates';
import { loadConfig } from '@executor/platform';

const MiB = 1024 * 1024;

/** Every option of the executor: env var name → schema with its description and default (documented once, here). */
export const ExecutorConfigSchema = Type.Object({
  POOL_NAME: Type.String({
    minLength: 1,
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
    description: 'Pool this pod belongs to (heartbeat, snapshots, its Redis ACL scope and job-id tag).',
  }),
  POD_NAME: Type.String({
    minLength: 1,
    pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
    description: 'Name of this pod; the work queue is `pod-<POD_NAME>`.',
  }),
  TEMPLATE: Type.Union(
    TEMPLATE_NAMES.map((t) => Type.Literal(t)),
    { description: `Template served by this pod (one of ${TEMPLATE_NAMES.join(', ')}).` },
  ),
  REGION: Type.String({ default: '', description: 'Region advertised in the heartbeat (empty: none).' }),
  REDIS_URL: Type.String({
    default: 'redis://127.0.0.1:6379',
    description: 'Redis for BullMQ, heartbeats and transfers.',
  }),
  QUEUE_PREFIX: Type.String({
    default: DEFAULT_QUEUE_PREFIX,
    minLength: 1,
    description: 'BullMQ key prefix shared by the platform.',
  }),
  WORKSPACE_ROOT: Type.String({
    default: '/tmp/executor-workspaces',
    minLength: 1,
    description: 'Directory under which every session gets its workspace and private tmp (created at boot).',
  }),
  MAX_SESSIONS: Type.Integer({
    default: 20,
    minimum: 1,
    maximum: 1000,
    description: 'Sessions this pod holds at most (heartbeat capacity).',
  }),
  SANDBOX: Type.Union([Type.Literal('bwrap'), Type.Literal('none')], {
    default: 'bwrap',
    description:
      '`bwrap`: every session runs in bubblewrap namespaces (mount/pid/net/ipc/uts), workspace + private /tmp the only writable places. ' +
      '`none`: plain child processes (only where the pod itself is the boundary: gVisor/Kata RuntimeClass).',
  }),
  SANDBOX_UID_BASE: Type.Integer({
    default: 40000,
    minimum: 0,
    description:
      'When the executor runs as root, session processes run as uid/gid `SANDBOX_UID_BASE + slot` (distinct per session: RLIMIT_NPROC and file permissions then separate sessions). 0 disables.',
  }),
  HOST: Type.String({ default: '127.0.0.1', description: 'Address of the health/metrics HTTP server.' }),
  PORT: Type.Integer({
    default: 8081,
    minimum: 0,
    maximum: 65535,
    description: 'Port of /health/live, /health/ready and /metrics (0: any free port).',
  }),
  SNAPSHOT_INTERVAL_SECONDS: Type.Integer({
    default: 60,
    minimum: 1,
    description: 'Periodic snapshot of persistent sessions whose files changed.',
  }),
  SNAPSHOT_AFTER_EXECUTION: Type.Boolean({
    default: true,
    description:
      'Commit a snapshot of a persistent session after every execution that changed its files, before the result is returned.',
  }),
  MAX_CODE_BYTES: Type.Integer({
    default: MiB,
    minimum: 1,
    description: 'Largest `code` of an execution (bytes; larger → payload_too_large).',
  }),
  MAX_OUTPUT_BYTES: Type.Integer({
    default: MiB,
    minimum: 1,
    description: 'stdout and stderr are each cut at this many bytes (`truncated: true`).',
  }),
  MAX_FILE_BYTES: Type.Integer({
    default: 100 * MiB,
    minimum: 1,
    description: 'Largest file accepted by files.put, and RLIMIT_FSIZE of session processes.',
  }),
  DEFAULT_TIMEOUT_MS: Type.Integer({
    default: 30_000,
    minimum: 1,
    maximum: 300_000,
    description:
      'Execution timeout for payloads without one. ExecutePayload.timeoutMs is currently required (the load balancer applies the API default), so this is a fallback only.',
  }),
  COMPILE_TIMEOUT_MS: Type.Integer({
    default: 60_000,
    minimum: 1,
    description:
      'Extra time allowed for the compile step of compiled templates (c, cpp, java, rust), on top of the execution timeout.',
  }),
  MEMORY_LIMIT_MB: Type.Integer({
    default: 512,
    minimum: 16,
    description:
      'Memory limit of one session (memory cgroup when writable, else RLIMIT_AS where the runtime tolerates it).',
  }),
  MAX_PROCESSES: Type.Integer({
    default: 128,
    minimum: 4,
    description:
      'Processes/threads of one session (pids cgroup when writable, and RLIMIT_NPROC of its own uid).',
  }),
  ALLOW_NETWORK: Type.Boolean({
    default: false,
    description: 'Default network access of sessions (a session.open `network` flag overrides).',
  }),
  WARM_KERNELS: Type.Integer({
    default: 2,
    minimum: 0,
    maximum: 32,
    description: 'Pre-started kernels kept ready for new sessions (kernel templates only).',
  }),
  WORKER_CONCURRENCY: Type.Integer({
    default: 0,
    minimum: 0,
    description:
      'Jobs processed in parallel (0: MAX_SESSIONS + 4). One session still runs its jobs one at a time, in order.',
  }),
  HEARTBEAT_INTERVAL_MS: Type.Integer({
    default: 2000,
    minimum: 100,
    description: 'Heartbeat period; the heartbeat expires after 3 periods.',
  }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({
    default: 60_000,
    minimum: 1000,
    description:
      'On SIGTERM, longest wait for in-flight jobs before the final snapshots (terminationGracePeriodSeconds must exceed this plus snapshot time).',
  }),
  PACKAGE_INSTALL_TIMEOUT_MS: Type.Integer({
    default: 300_000,
    minimum: 1000,
    description: 'Timeout of one packages.install (pip / npm).',
  }),
  PACKAGES_NETWORK: Type.Boolean({
    default: true,
    description: 'Package installs may use the network even when the session may not.',
  }),
  PIP_INDEX_URL: Type.String({ default: '', description: 'pip index (empty: pip default, PyPI).' }),
  PIP_FIND_LINKS: Type.String({
    default: '',
    description:
      'Local directory of wheels/sdists for pip (`--find-links`; bound read-only into the sandbox). Empty: none.',
  }),
  PIP_NO_INDEX: Type.Boolean({
    default: false,
    description: 'pip uses only PIP_FIND_LINKS (no index; offline installs).',
  }),
  NPM_REGISTRY: Type.String({ default: '', description: 'npm registry URL (empty: npm default).' }),
  HISTORY_LIMIT: Type.Integer({
    default: 1000,
    minimum: 0,
    description: 'Execution records kept per session (oldest dropped).',
  }),
  PERSISTENCE_TIMEOUT_MS: Type.Integer({
    default: 30_000,
    minimum: 100,
    description: 'Timeout of calls to the persistence service (snapshot, restore).',
  }),
});

export type ExecutorConfig = Static<typeof ExecutorConfigSchema>;

export const EXECUTOR_CONFIG = Symbol('EXECUTOR_CONFIG');

/** Reads and validates the executor's configuration (throws ConfigError naming every bad variable). */
export function loadExecutorConfig(env: NodeJS.ProcessEnv = process.env): ExecutorConfig {
  return loadConfig(ExecutorConfigSchema, env);
}

/** Worker concurrency actually used. */
export function workerConcurrency(cfg: ExecutorConfig): number {
  return cfg.WORKER_CONCURRENCY > 0 ? cfg.WORKER_CONCURRENCY : cfg.MAX_SESSIONS + 4;
}
