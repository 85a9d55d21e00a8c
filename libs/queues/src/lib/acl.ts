import { DEFAULT_QUEUE_PREFIX } from './connection';
import { QueueNames, podQueueName } from './names';

/**
 * Redis ACL rules of every component, derived from the key layouts and queue names of this
 * library (the single source: `k8s/config/deployment/redis-acl.generated.yaml`, the local launcher
 * and the operator's per-pool users are all rendered from here; a test fails on drift).
 *
 * Key layout (all under `<prefix>:`, QUEUE_PREFIX):
 * - `<queue>:*`              BullMQ keys of a queue (`pod-<pod>`, `persistence-*`, events queues)
 * - `hb:pod:<pod>`, `hb:pool:<pool>`, `hb:pools`  heartbeats (heartbeat.ts)
 * - `xfer:<uuid>`            byte transfers (transfer.ts); `pipe:<id>` byte pipes (E2B contract)
 * - `lb:*`                   load balancer state (sessions, registry, expiry lease, rate limits,
 *                            quotas, idempotency)
 * - `state:*`                persistence store
 * - channels `replies:<caller>` (rpc.ts), `stream:*`, `proc:*`, `watch:*` (E2B contract)
 *
 * Executors run next to untrusted code, so theirs are the narrow ones: only their pod's (or, on
 * Kubernetes, their pool's) queue and heartbeat keys, transfers/pipes, add-only access to the
 * persistence queues with job ids tagged by their {@link executorTag} (persistence checks that tag
 * against the session it stores), publish-only on reply/stream channels and subscribe on their own
 * reply channel. No component but `admin` may run KEYS/SCAN/CONFIG SET/FLUSHALL/ACL/DEBUG…
 */

/** The platform's Redis users. Executors have one user per pod (local) or per pool (Kubernetes). */
export const AclUsers = {
  admin: 'admin',
  loadBalancer: 'load-balancer',
  persistence: 'persistence',
  operator: 'operator',
  monitor: 'monitor',
} as const;
export type StaticAclUser = (typeof AclUsers)[keyof typeof AclUsers];

/** Executor scope: one pod (`pod` set: the launcher knows the names) or a whole pool (Kubernetes). */
export interface ExecutorScope {
  pool: string;
  pod?: string;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Redis user name of an executor scope: `exec:<pool>` or `exec:<pool>:<pod>`. */
export function executorAclUser(scope: ExecutorScope): string {
  checkScope(scope);
  return scope.pod ? `exec:${scope.pool}:${scope.pod}` : `exec:${scope.pool}`;
}

/**
 * Tag that prefixes the ids of every job an executor adds and its reply channel: `<pool>_` or
 * `<pool>_<pod>_`. Pool and pod names cannot contain `_`, so a tag never prefixes another scope's.
 */
export function executorTag(scope: ExecutorScope): string {
  checkScope(scope);
  return scope.pod ? `${scope.pool}_${scope.pod}_` : `${scope.pool}_`;
}

/**
 * The executor tag that prefixes a tagged job id (`<pool>_<pod>_<uuid>` → `<pool>_<pod>_`), or
 * undefined for untagged ids (the trusted components' jobs).
 */
export function tagOfJobId(jobId: string | undefined): string | undefined {
  if (!jobId) return undefined;
  const i = jobId.lastIndexOf('_');
  return i > 0 ? jobId.slice(0, i + 1) : undefined;
}

/** The pool named by a job id's executor tag (`<pool>_…`), or undefined for untagged (trusted) ids. */
export function poolOfTaggedJobId(jobId: string | undefined): string | undefined {
  if (!jobId) return undefined;
  const i = jobId.indexOf('_');
  return i > 0 ? jobId.slice(0, i) : undefined;
}

function checkScope(scope: ExecutorScope): void {
  if (!NAME_RE.test(scope.pool)) throw new Error(`invalid pool name "${scope.pool}" for an ACL user`);
  if (scope.pod !== undefined) podQueueName(scope.pod); // validates the pod name
}

/**
 * Kubernetes pod names of a Deployment's pods: `<deployment>-<pod-template-hash>-<suffix>`, the
 * hash 1–10 and the suffix 5 characters of `[a-z0-9]` (the Deployment is named after the pool).
 * Redis glob has no repetition, so one pattern per hash length; `*` is never used because it would
 * also match the pods of a pool whose name extends this one (`py` vs `py-data`).
 */
export function poolPodNamePatterns(pool: string): string[] {
  const c = '[a-z0-9]';
  return Array.from({ length: 10 }, (_, i) => `${pool}-${c.repeat(i + 1)}-${c.repeat(5)}`);
}

/**
 * Commands every non-admin component may run: data commands, scripting (BullMQ), transactions,
 * pub/sub; no @dangerous command (KEYS, CONFIG, FLUSHALL, DEBUG, ACL, CLIENT LIST/KILL, SHUTDOWN,
 * MONITOR, SORT…) and nothing that enumerates the keyspace or channels (SCAN, RANDOMKEY, PUBSUB)
 * or changes the script/function cache. INFO and CLIENT SETNAME are what BullMQ needs on top.
 */
const DATA_COMMANDS = [
  '-@all',
  '+@all',
  '-@dangerous',
  '-scan',
  '-randomkey',
  '-pubsub',
  '-script|flush',
  '-script|kill',
  '-script|debug',
  '-function',
  '-fcall',
  '-fcall_ro',
  '+info',
  '+client|setname',
  '+client|getname',
  '+client|id',
];

/** Keys of a queue (`<prefix>:<queue>:*`). */
const queueKeys = (prefix: string, queue: string): string => `${prefix}:${queue}:*`;

/** The persistence queues an executor adds jobs to. */
const EXECUTOR_PERSISTENCE_QUEUES = [QueueNames.snapshot, QueueNames.restore, QueueNames.persistenceAdmin];

/**
 * BullMQ keys the add and getState scripts declare besides the job's own hash (a script's
 * declared keys need read and write). They hold job ids, counters and settings; the `events`
 * stream also carries other executors' results, whose transfers are under their own tags.
 */
const QUEUE_SCRIPT_SUFFIXES = [
  'meta',
  'id',
  'wait',
  'paused',
  'prioritized',
  'pc',
  'marker',
  'delayed',
  'active',
  'completed',
  'failed',
  'waiting-children',
  'events',
];

/** Rules (ACL SETUSER tokens after `reset on <password>`) of an executor user. */
export function executorAclRules(scope: ExecutorScope, prefix = DEFAULT_QUEUE_PREFIX): string[] {
  checkScope(scope);
  const pods = scope.pod ? [scope.pod] : poolPodNamePatterns(scope.pool);
  const tag = executorTag(scope);
  const keys: string[] = [];
  for (const pod of pods) {
    keys.push(`~${prefix}:pod-${pod}:*`, `~${prefix}:hb:pod:${pod}`);
  }
  // Transfers and pipes under its own tag only (transferKey / pipeKey with its scope).
  keys.push(`~${prefix}:hb:pool:${scope.pool}`, `~${prefix}:xfer:${tag}*`, `~${prefix}:pipe:${tag}*`);
  for (const q of EXECUTOR_PERSISTENCE_QUEUES) {
    keys.push(`~${prefix}:${q}:${tag}*`);
    for (const s of QUEUE_SCRIPT_SUFFIXES) keys.push(`~${prefix}:${q}:${s}`);
  }
  return [
    'resetkeys',
    'resetchannels',
    ...DATA_COMMANDS,
    ...keys,
    // Its own reply channel (persistence answers), publish and subscribe.
    `&${prefix}:replies:${tag}*`,
    // Publish-only: replies to the load balancers' calls, streamed events (selectors, Redis ≥ 7).
    `(&${prefix}:replies:* &${prefix}:stream:* &${prefix}:proc:* &${prefix}:watch:* -@all +publish)`,
    // Registering its pool in the set of pools with heartbeats: add only.
    `(~${prefix}:hb:pools -@all +sadd)`,
  ];
}

/** Rules of the static users. */
export function staticAclRules(user: StaticAclUser, prefix = DEFAULT_QUEUE_PREFIX): string[] {
  const p = prefix;
  switch (user) {
    case AclUsers.admin:
      return ['~*', '&*', '+@all'];
    case AclUsers.loadBalancer:
      // Trusted front: every queue (admin UI), its own state, heartbeats, transfers; not the
      // persistence store; no admin commands.
      return [
        'resetkeys',
        'resetchannels',
        ...DATA_COMMANDS,
        `~${p}:lb:*`,
        `~${p}:hb:*`,
        `~${p}:xfer:*`,
        `~${p}:pipe:*`,
        `~${p}:pod-*`,
        ...Object.values(QueueNames).map((q) => `~${queueKeys(p, q)}`),
        `&${p}:*`,
        // bull-board lists a queue's workers (CLIENT LIST).
        '+client|list',
      ];
    case AclUsers.persistence:
      return [
        'resetkeys',
        'resetchannels',
        ...DATA_COMMANDS,
        `~${p}:state:*`,
        `~${p}:xfer:*`,
        ...EXECUTOR_PERSISTENCE_QUEUES.map((q) => `~${queueKeys(p, q)}`),
        `&${p}:replies:*`,
        // The durability check at boot (AOF, noeviction).
        '+config|get',
      ];
    case AclUsers.operator:
      return [
        'resetkeys',
        'resetchannels',
        ...DATA_COMMANDS,
        `~${queueKeys(p, QueueNames.sessionEvents)}`,
        `~${queueKeys(p, QueueNames.podEvents)}`,
        `~${queueKeys(p, QueueNames.poolRegistry)}`,
        // Queue depths of the pods and the session lease: read only.
        `%R~${p}:pod-*`,
        `%R~${p}:hb:*`,
        `%R~${p}:lb:expiry`,
        `&${p}:replies:*`,
        // It manages the executors' per-pool users (see docs/operations.md for the trade-off).
        '+acl|setuser',
        '+acl|deluser',
        '+acl|users',
        '+acl|getuser',
      ];
    case AclUsers.monitor:
      // redis_exporter and the readiness probe: server stats, no keys, no channels.
      return [
        'resetkeys',
        'resetchannels',
        '-@all',
        '+ping',
        '+info',
        '+config|get',
        '+client|list',
        '+client|setname',
        '+slowlog|get',
        '+slowlog|len',
        '+latency|latest',
        '+dbsize',
        '+select',
        '+cluster|info',
        '+hello',
        '+auth',
      ];
  }
}

/** Arguments of `ACL SETUSER` (after `ACL`): the user reset, on, with one password. */
export function aclSetUserArgs(user: string, password: string, rules: string[]): string[] {
  return ['SETUSER', user, 'reset', 'on', `>${password}`, ...rules];
}

/** One line of an ACL file. `password` is the literal after `>` (or a `${VAR}` placeholder). */
export function aclFileLine(user: string, password: string, rules: string[]): string {
  return ['user', user, 'on', `>${password}`, ...rules].join(' ');
}

/** Environment variable holding a static user's password on Kubernetes (`redis-auth` Secret keys). */
export const AclPasswordEnv: Record<StaticAclUser, string> = {
  admin: 'REDIS_ADMIN_PASSWORD',
  'load-balancer': 'REDIS_LB_PASSWORD',
  persistence: 'REDIS_PERSISTENCE_PASSWORD',
  operator: 'REDIS_OPERATOR_PASSWORD',
  monitor: 'REDIS_MONITOR_PASSWORD',
};

/**
 * The `default` user: `off`, so no client can use it (no anonymous access; AUTH as default
 * fails). Its permissions stay full on purpose: Redis 7.0 replays the AOF's MULTI/EXEC blocks with
 * the default user's permissions, so a restricted default user makes a restart drop every
 * transaction of the AOF (found by the fault suite: the whole platform state gone after a restart).
 */
export const DEFAULT_USER_ACL_LINE = 'user default off nopass ~* &* +@all';

/**
 * The ACL file of the static users (`default` off: no anonymous access). `passwordOf` gives each
 * user's password, e.g. `(u) => '${' + AclPasswordEnv[u] + '}'` for the Kubernetes template.
 */
export function renderAclFile(
  passwordOf: (user: StaticAclUser) => string,
  prefix = DEFAULT_QUEUE_PREFIX,
): string {
  const lines = [DEFAULT_USER_ACL_LINE];
  for (const user of Object.values(AclUsers)) {
    lines.push(aclFileLine(user, passwordOf(user), staticAclRules(user, prefix)));
  }
  return `${lines.join('\n')}\n`;
}

/** `redis://user:password@host:port/db` (user and password URL-encoded). */
export function redisUrlFor(base: string, user: string, password: string): string {
  const u = new URL(base);
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString().replace(/\/$/, '');
}
