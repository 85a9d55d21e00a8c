/**
 * Every queue of the platform. BullMQ queue names may not contain ':'.
 * - `pod-<pod>`: the work queue of one executor pod (session operations); its depth is the pod's
 *   queue depth, and the sum over a pool's pods is the pool's depth used for scaling.
 * - `persistence-snapshot` / `persistence-restore` / `persistence-admin`: the persistence service.
 * - `session-events`: load balancer → operator (ExecutorSession lifecycle).
 * - `pod-events`: operator → load balancer (a pod was deleted: migrate its sessions now).
 * - `pool-registry`: operator → load balancer (register / deregister the pools it manages).
 */
export const QueueNames = {
  snapshot: 'persistence-snapshot',
  restore: 'persistence-restore',
  persistenceAdmin: 'persistence-admin',
  sessionEvents: 'session-events',
  podEvents: 'pod-events',
  poolRegistry: 'pool-registry',
} as const;

const POD_QUEUE_PREFIX = 'pod-';

/** The work queue of one executor pod. */
export function podQueueName(pod: string): string {
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(pod)) {
    throw new Error(`invalid pod name "${pod}": use lowercase letters, digits, '-' and '.'`);
  }
  return `${POD_QUEUE_PREFIX}${pod}`;
}

/** Inverse of {@link podQueueName}; undefined for queues that are not pod queues. */
export function podFromQueueName(queue: string): string | undefined {
  return queue.startsWith(POD_QUEUE_PREFIX) ? queue.slice(POD_QUEUE_PREFIX.length) : undefined;
}

/** Job names on a pod queue (one per session operation of API.md that runs on the pod). */
export const PodJobs = {
  open: 'session.open',
  execute: 'session.execute',
  persist: 'session.persist',
  close: 'session.close',
  filesPut: 'files.put',
  filesGet: 'files.get',
  filesList: 'files.list',
  filesDelete: 'files.delete',
  packagesInstall: 'packages.install',
  packagesList: 'packages.list',
  // Contexts: several independent kernels of one session (E2B-CONTRACT.md).
  contextCreate: 'context.create',
  contextList: 'context.list',
  contextRestart: 'context.restart',
  contextRemove: 'context.remove',
  // Processes (commands) in the session's sandbox.
  processStart: 'process.start',
  processList: 'process.list',
  processGet: 'process.get',
  processInput: 'process.input',
  processCloseStdin: 'process.closeStdin',
  processSignal: 'process.signal',
  // Filesystem on sandbox paths (/home/user/..., /tmp/...).
  fsStat: 'fs.stat',
  fsList: 'fs.list',
  fsMkdir: 'fs.mkdir',
  fsMove: 'fs.move',
  fsRemove: 'fs.remove',
  fsRead: 'fs.read',
  fsWrite: 'fs.write',
  fsWatch: 'fs.watch',
  fsUnwatch: 'fs.unwatch',
} as const;
export type PodJobName = (typeof PodJobs)[keyof typeof PodJobs];

export const PersistenceJobs = {
  snapshot: 'state.snapshot',
  restore: 'state.restore',
  delete: 'state.delete',
  podSessions: 'index.pod-sessions',
  touch: 'state.touch',
} as const;

export const SessionEventTypes = {
  created: 'session.created',
  migrated: 'session.migrated',
  expired: 'session.expired',
  deleted: 'session.deleted',
  snapshotted: 'session.snapshotted',
} as const;
export type SessionEventType = (typeof SessionEventTypes)[keyof typeof SessionEventTypes];

export const PodEventTypes = { deleted: 'pod.deleted' } as const;

export const PoolRegistryJobs = { register: 'pool.register', deregister: 'pool.deregister' } as const;
