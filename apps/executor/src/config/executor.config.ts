import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_QUEUE_PREFIX } from '@executor/queues';
import { TEMPLATE_NAMES } from '@executor/templates';
import { loadConfig } from '@executor/platform';

const MiB = 1024 * 1024;

/** Every option of the executor: env var name → schema with its description and default (documented once, here). */
export const ExecutorConfigSchema = Type.Object({
  POOL_NAME: Type.String({ minLength: 1, description: 'Pool this pod belongs to (heartbeat, snapshots).' }),
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
    pattern: '^/',
    description:
      'Directory under which every session gets its slot (`slot-N/work` = /home/user, `slot-N/tmp` = /tmp; a tmpfs per slot when root). Created at boot, must be owned by the executor; tmpfs mounts of a crashed executor are removed at boot.',
  }),
  WORKSPACE_MAX_BYTES: Type.Integer({
    default: 256 * MiB,
    minimum: MiB,
    description:
      "Size of a slot's tmpfs (root executor): the workspace and the private /tmp together. Writes beyond it fail with ENOSPC. Pages written by session code also count toward the session's MEMORY_LIMIT_MB.",
  }),
  WORKSPACE_MAX_FILES: Type.Integer({
    default: 32_768,
    minimum: 64,
    description: "Inodes (files + directories) of a slot's tmpfs (root executor); more fail with ENOSPC.",
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
      '`bwrap`: every session runs in bubblewrap (own user/mount/pid/net/ipc/uts namespaces, uid 1000 inside, seccomp filter, no capabilities, reduced /etc), its workspace at /home/user and a private /tmp the only writable places. ' +
      '`none` (only when set explicitly; logged at WARN): plain child processes, for pods that are the boundary themselves (one session per gVisor/Kata pod).',
  }),
  SANDBOX_UID_BASE: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 0, maximum: 4_000_000_000 })], {
    default: 'auto',
    description:
      'Root executor: session processes run as uid/gid `SANDBOX_UID_BASE + slot` outside their user namespace (distinct per session: RLIMIT_NPROC, file ownership and signals then separate sessions). `auto`: a range derived from POD_NAME (see `resolveUidBase`), so that executors sharing a kernel (pods on one node, processes of `npm start`) do not share uids. A root executor refuses to start with 0. Ignored by a non-root executor (sessions share its uid).',
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
      "Memory limit of one session's cgroup (every process of the session, plus tmpfs and /dev/shm pages it wrote; the OOM killer stops the session's largest process). Without a memory cgroup: RLIMIT_AS where the runtime tolerates it.",
  }),
  MAX_PROCESSES: Type.Integer({
    default: 128,
    minimum: 4,
    description:
      "Processes/threads of one session (its cgroup's pids.max, and RLIMIT_NPROC of the session's own uid when root).",
  }),
  CPU_SHARES: Type.Integer({
    default: 1024,
    minimum: 2,
    maximum: 262_144,
    description:
      "CPU weight of one session's cgroup relative to the others and to the executor (v1 cpu.shares; v2 cpu.weight = shares × 100 / 1024). Under contention each busy session gets its share; idle CPU is used freely.",
  }),
  CPU_LIMIT: Type.Number({
    default: 0,
    minimum: 0,
    maximum: 1024,
    description:
      'Hard CPU quota of one session in cores (cfs quota / cpu.max, e.g. 1.5); 0: none (only CPU_SHARES applies).',
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
    description:
      "Package installs may reach the package index — only its host (PIP_INDEX_URL / NPM_REGISTRY, plus PACKAGES_EXTRA_HOSTS), through the executor's allowlist proxy — even when the session has no network. false: installs have no network at all.",
  }),
  PACKAGES_EXTRA_HOSTS: Type.String({
    default: '',
    pattern:
      '^([A-Za-z0-9.-]+|\\[[0-9a-fA-F:.]+\\])?(:[0-9]{1,5})?(,\\s*([A-Za-z0-9.-]+|\\[[0-9a-fA-F:.]+\\])(:[0-9]{1,5})?)*$',
    description:
      'More `host[:port]` (443 when absent), comma-separated, that package installs may reach besides the index host (a mirror that serves its files from another host). Empty: none.',
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
  MAX_CONTEXTS: Type.Integer({
    default: 8,
    minimum: 1,
    maximum: 64,
    description:
      'Contexts (independent kernels: context.create, or a language asked for by an execution) per session, the default one included. Each is a kernel process in the same sandbox and limits.',
  }),
  MAX_COMMANDS: Type.Integer({
    default: 32,
    minimum: 1,
    maximum: 1024,
    description: 'Commands (process.start) running at once per session; more → rate_limited.',
  }),
  MAX_WATCHES: Type.Integer({
    default: 16,
    minimum: 1,
    maximum: 1024,
    description: 'Filesystem watches (fs.watch) per session; more → rate_limited.',
  }),
  PIPE_TIMEOUT_MS: Type.Integer({
    default: 30_000,
    minimum: 100,
    description:
      'Longest wait for the other side of a byte pipe (fs.read / fs.write streams through Redis): a chunk, or room in the window.',
  }),
  SMOKE_TIMEOUT_MS: Type.Integer({
    default: 60_000,
    minimum: 1000,
    description:
      "Timeout of the template's smoke program, run at boot through the real sandbox before the pod takes sessions (compile included).",
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

/** First uid of the automatic ranges, above the uids images and hosts usually assign. */
export const AUTO_UID_FIRST = 200_000;
/** Uids per automatic range (slots of one executor: sessions + warm kernels, with room to spare). */
export const AUTO_UID_STRIDE = 2048;
/** Automatic ranges available below 2^31. */
export const AUTO_UID_RANGES = Math.floor((2 ** 31 - AUTO_UID_FIRST) / AUTO_UID_STRIDE);

/**
 * The first session uid of this executor. With `auto` it is one of AUTO_UID_RANGES ranges chosen by a
 * hash (FNV-1a) of POD_NAME: executors on one kernel get distinct uids unless two pod names collide
 * (probability about n²/2 / 1,048,000 for n pods on a node). Set an explicit base where that is not enough.
 */
export function resolveUidBase(cfg: Pick<ExecutorConfig, 'SANDBOX_UID_BASE' | 'POD_NAME'>): number {
  if (cfg.SANDBOX_UID_BASE !== 'auto') return cfg.SANDBOX_UID_BASE;
  let h = 0x811c9dc5;
  for (const ch of Buffer.from(cfg.POD_NAME)) {
    h ^= ch;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return AUTO_UID_FIRST + (h % AUTO_UID_RANGES) * AUTO_UID_STRIDE;
}

/** Worker concurrency actually used. */
export function workerConcurrency(cfg: ExecutorConfig): number {
  return cfg.WORKER_CONCURRENCY > 0 ? cfg.WORKER_CONCURRENCY : cfg.MAX_SESSIONS + 4;
}
