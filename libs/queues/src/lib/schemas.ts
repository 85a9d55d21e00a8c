import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { PersistenceJobs, PodJobs, PodEventTypes, PoolRegistryJobs, SessionEventTypes } from './names';
import { Id, SessionEnvelope, StringMap } from './envelope';
import { ExecutionError, ResultItem } from './execution';
import {
  ContextCreatePayload,
  ContextCreateResult,
  ContextListPayload,
  ContextListResult,
  ContextRemovePayload,
  ContextRestartPayload,
} from './contexts';
import {
  ProcessGetPayload,
  ProcessGetResult,
  ProcessInputPayload,
  ProcessListPayload,
  ProcessListResult,
  ProcessSelectorPayload,
  ProcessSignalPayload,
  ProcessStartPayload,
  ProcessStartResult,
} from './processes';
import {
  FsEntryResult,
  FsListPayload,
  FsListResult,
  FsMkdirPayload,
  FsMkdirResult,
  FsMovePayload,
  FsPathPayload,
  FsReadPayload,
  FsReadResult,
  FsUnwatchPayload,
  FsWatchPayload,
  FsWritePayload,
} from './filesystem';

/** A Redis key holding raw bytes handed from one service to another (see `transfer.ts`). */
export const BlobRef = Type.Object({
  key: Type.String({ minLength: 1 }),
  size: Type.Integer({ minimum: 0 }),
});
export type BlobRef = Static<typeof BlobRef>;

// ---------------------------------------------------------------- pod queue payloads/results
export const OpenSessionPayload = Type.Object({
  ...SessionEnvelope,
  template: Type.String({ minLength: 1 }),
  pool: Type.String({ minLength: 1 }),
  persist: Type.Boolean(),
  ttlSeconds: Type.Integer({ minimum: 1 }),
  env: StringMap,
  metadata: StringMap,
  /** True when the session already existed elsewhere (migration): restore its latest snapshot first. */
  restore: Type.Boolean(),
  /** Allow network access from the session's sandbox (default false). */
  network: Type.Optional(Type.Boolean()),
});
export const OpenSessionResult = Type.Object({
  pod: Type.String(),
  restored: Type.Boolean(),
  restoredVersion: Type.Optional(Type.Integer()),
});

export const ExecutePayload = Type.Object({
  ...SessionEnvelope,
  executionId: Id('execution id'),
  code: Type.String(),
  language: Type.Optional(Type.String({ maxLength: 32 })),
  timeoutMs: Type.Integer({ minimum: 1, maximum: 300_000 }),
  env: Type.Optional(StringMap),
  /** Context (kernel) to run in; default: the session's default context, or `language`'s default context. */
  context: Type.Optional(Id('context id')),
  /**
   * A `streamChannel()` of this platform's prefix: when set, the executor publishes the execution's
   * events (`ExecutionEvent`) on it as they are produced (subscribe before adding the job).
   */
  stream: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
});
export const ExecuteResult = Type.Object({
  id: Type.String(),
  exitCode: Type.Integer(),
  stdout: Type.String(),
  stderr: Type.String(),
  durationMs: Type.Number(),
  timedOut: Type.Boolean(),
  truncated: Type.Boolean(),
  /** ISO time the execution started. */
  at: Type.String(),
  /** Snapshot version committed after this execution (persistent sessions whose files changed). */
  snapshotVersion: Type.Optional(Type.Integer()),
  /**
   * Rich results in order: display() calls and figures (isMain false), the last expression (isMain
   * true). Always set by executors of this version (optional for older executors and test doubles).
   */
  results: Type.Optional(Type.Array(ResultItem)),
  /** The kernel error of this execution (an exception, a timeout), if any. */
  error: Type.Optional(ExecutionError),
  /** The kernel's execution counter (per context; restarts at 1 with the kernel). */
  executionCount: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Context the execution ran in (always set by executors of this version). */
  context: Type.Optional(Type.String()),
});

export const PersistPayload = Type.Object({ ...SessionEnvelope });
export const PersistResult = Type.Object({
  version: Type.Integer(),
  bytes: Type.Integer(),
  at: Type.String(),
});

export const ClosePayload = Type.Object({
  ...SessionEnvelope,
  /** Also delete persisted state (explicit DELETE / expiry), not only the kernel and files. */
  deleteState: Type.Boolean(),
  reason: Type.Union([
    Type.Literal('deleted'),
    Type.Literal('expired'),
    Type.Literal('migrated'),
    /** E2B pause: state persisted, the session leaves the pod, resumed later with `restore: true`. */
    Type.Literal('paused'),
  ]),
});
export const CloseResult = Type.Object({ closed: Type.Boolean() });

const FilePath = Type.String({ minLength: 1, maxLength: 4096 });
export const FilePutPayload = Type.Object({ ...SessionEnvelope, path: FilePath, blob: BlobRef });
export const FilePutResult = Type.Object({ size: Type.Integer() });
export const FileGetPayload = Type.Object({ ...SessionEnvelope, path: FilePath });
export const FileGetResult = Type.Object({ blob: BlobRef, size: Type.Integer() });
export const FileListPayload = Type.Object({ ...SessionEnvelope });
export const FileEntry = Type.Object({
  path: Type.String(),
  size: Type.Integer(),
  modifiedAt: Type.String(),
});
export const FileListResult = Type.Object({ items: Type.Array(FileEntry) });
export const FileDeletePayload = Type.Object({ ...SessionEnvelope, path: FilePath });
export const FileDeleteResult = Type.Object({ deleted: Type.Boolean() });

export const PackageManager = Type.Union([Type.Literal('pip'), Type.Literal('npm')]);
export const PackagesInstallPayload = Type.Object({
  ...SessionEnvelope,
  manager: Type.Optional(PackageManager),
  packages: Type.Array(Type.String({ minLength: 1, maxLength: 214 }), { minItems: 1, maxItems: 100 }),
});
export const InstalledPackage = Type.Object({ name: Type.String(), version: Type.String() });
export const PackagesInstallResult = Type.Object({ installed: Type.Array(InstalledPackage) });
export const PackagesListPayload = Type.Object({ ...SessionEnvelope });
export const PackagesListResult = Type.Object({
  items: Type.Array(Type.Object({ manager: PackageManager, name: Type.String(), version: Type.String() })),
});

// ---------------------------------------------------------------- persistence
export const SnapshotTrigger = Type.Union([
  Type.Literal('execution'),
  Type.Literal('periodic'),
  Type.Literal('explicit'),
  Type.Literal('shutdown'),
  Type.Literal('migration'),
]);
export type SnapshotTrigger = Static<typeof SnapshotTrigger>;

export const SnapshotPayload = Type.Object({
  ...SessionEnvelope,
  pool: Type.String(),
  pod: Type.String(),
  template: Type.String(),
  trigger: SnapshotTrigger,
  ttlSeconds: Type.Integer({ minimum: 1 }),
  /** ISO time the session expires; state is kept until then plus a grace period. */
  expiresAt: Type.String(),
  /** Version the delta was computed against (files absent from `state` are unchanged since it). */
  baseVersion: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  /** Bytes of `encodeState()` (libs/session-state): a full state or a delta against baseVersion. */
  state: BlobRef,
});
export const SnapshotResult = Type.Object({
  version: Type.Integer(),
  /** Logical bytes of the snapshot (all files). */
  bytes: Type.Integer(),
  /** Physical bytes newly written (new compressed blobs + manifest). */
  storedBytes: Type.Integer(),
  newBlobs: Type.Integer(),
  at: Type.String(),
});

export const RestorePayload = Type.Object({ sessionId: Id('session id') });
export const RestoreResult = Type.Object({
  found: Type.Boolean(),
  version: Type.Optional(Type.Integer()),
  /** Bytes of `encodeState()` of the full state (every file's content). */
  state: Type.Optional(BlobRef),
});

export const DeleteStatePayload = Type.Object({ sessionId: Id('session id') });
export const DeleteStateResult = Type.Object({ deleted: Type.Boolean() });

export const PodSessionsPayload = Type.Object({ pod: Type.String({ minLength: 1 }) });
export const PodSessionsResult = Type.Object({ sessionIds: Type.Array(Type.String()) });

/** Moves a session's state expiry (idle TTL moved forward by use). */
export const TouchStatePayload = Type.Object({ sessionId: Id('session id'), expiresAt: Type.String() });
export const TouchStateResult = Type.Object({ found: Type.Boolean() });

// ---------------------------------------------------------------- events
export const SessionEvent = Type.Object({
  type: Type.Union(Object.values(SessionEventTypes).map((t) => Type.Literal(t))),
  sessionId: Id('session id'),
  tenant: Type.String(),
  pool: Type.String(),
  pod: Type.String(),
  template: Type.String(),
  persist: Type.Boolean(),
  ttlSeconds: Type.Integer({ minimum: 1 }),
  expiresAt: Type.String(),
  /** ISO time of the event. */
  at: Type.String(),
  migration: Type.Optional(
    Type.Object({ from: Type.String(), to: Type.String(), at: Type.String(), reason: Type.String() }),
  ),
  lastSnapshotAt: Type.Optional(Type.String()),
});
export type SessionEvent = Static<typeof SessionEvent>;

export const PodEvent = Type.Object({
  type: Type.Literal(PodEventTypes.deleted),
  pool: Type.String({ minLength: 1 }),
  pod: Type.String({ minLength: 1 }),
  reason: Type.String(),
  at: Type.String(),
});
export type PodEvent = Static<typeof PodEvent>;

export const PoolRegistration = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
  template: Type.String({ minLength: 1 }),
  region: Type.Optional(Type.String({ maxLength: 63 })),
  weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  namespace: Type.Optional(Type.String()),
  managedBy: Type.Optional(Type.String()),
});
export type PoolRegistration = Static<typeof PoolRegistration>;
export const PoolDeregistration = Type.Object({ name: Type.String({ minLength: 1 }) });

/** A job definition: queue, name and the schemas of its payload and result. */
export interface JobDef<P extends TSchema = TSchema, R extends TSchema = TSchema> {
  readonly name: string;
  readonly payload: P;
  readonly result: R;
}
const def = <P extends TSchema, R extends TSchema>(name: string, payload: P, result: R): JobDef<P, R> => ({
  name,
  payload,
  result,
});

/** Jobs on a pod queue. */
export const PodJobDefs = {
  open: def(PodJobs.open, OpenSessionPayload, OpenSessionResult),
  execute: def(PodJobs.execute, ExecutePayload, ExecuteResult),
  persist: def(PodJobs.persist, PersistPayload, PersistResult),
  close: def(PodJobs.close, ClosePayload, CloseResult),
  filesPut: def(PodJobs.filesPut, FilePutPayload, FilePutResult),
  filesGet: def(PodJobs.filesGet, FileGetPayload, FileGetResult),
  filesList: def(PodJobs.filesList, FileListPayload, FileListResult),
  filesDelete: def(PodJobs.filesDelete, FileDeletePayload, FileDeleteResult),
  packagesInstall: def(PodJobs.packagesInstall, PackagesInstallPayload, PackagesInstallResult),
  packagesList: def(PodJobs.packagesList, PackagesListPayload, PackagesListResult),
  contextCreate: def(PodJobs.contextCreate, ContextCreatePayload, ContextCreateResult),
  contextList: def(PodJobs.contextList, ContextListPayload, ContextListResult),
  contextRestart: def(PodJobs.contextRestart, ContextRestartPayload, Type.Object({})),
  contextRemove: def(PodJobs.contextRemove, ContextRemovePayload, Type.Object({})),
  processStart: def(PodJobs.processStart, ProcessStartPayload, ProcessStartResult),
  processList: def(PodJobs.processList, ProcessListPayload, ProcessListResult),
  processGet: def(PodJobs.processGet, ProcessGetPayload, ProcessGetResult),
  processInput: def(PodJobs.processInput, ProcessInputPayload, Type.Object({})),
  processCloseStdin: def(PodJobs.processCloseStdin, ProcessSelectorPayload, Type.Object({})),
  processSignal: def(PodJobs.processSignal, ProcessSignalPayload, Type.Object({})),
  fsStat: def(PodJobs.fsStat, FsPathPayload, FsEntryResult),
  fsList: def(PodJobs.fsList, FsListPayload, FsListResult),
  fsMkdir: def(PodJobs.fsMkdir, FsMkdirPayload, FsMkdirResult),
  fsMove: def(PodJobs.fsMove, FsMovePayload, FsEntryResult),
  fsRemove: def(PodJobs.fsRemove, FsPathPayload, Type.Object({})),
  fsRead: def(PodJobs.fsRead, FsReadPayload, FsReadResult),
  fsWrite: def(PodJobs.fsWrite, FsWritePayload, FsEntryResult),
  fsWatch: def(PodJobs.fsWatch, FsWatchPayload, Type.Object({})),
  fsUnwatch: def(PodJobs.fsUnwatch, FsUnwatchPayload, Type.Object({})),
} as const;

/** Jobs of the persistence service (snapshot → QueueNames.snapshot, the rest → their queues). */
export const PersistenceJobDefs = {
  snapshot: def(PersistenceJobs.snapshot, SnapshotPayload, SnapshotResult),
  restore: def(PersistenceJobs.restore, RestorePayload, RestoreResult),
  delete: def(PersistenceJobs.delete, DeleteStatePayload, DeleteStateResult),
  podSessions: def(PersistenceJobs.podSessions, PodSessionsPayload, PodSessionsResult),
  touch: def(PersistenceJobs.touch, TouchStatePayload, TouchStateResult),
} as const;

const Empty = Type.Object({});
export const EventJobDefs = {
  sessionEvent: Object.fromEntries(
    Object.values(SessionEventTypes).map((t) => [t, def(t, SessionEvent, Empty)]),
  ) as Record<
    (typeof SessionEventTypes)[keyof typeof SessionEventTypes],
    JobDef<typeof SessionEvent, typeof Empty>
  >,
  podDeleted: def(PodEventTypes.deleted, PodEvent, Empty),
  poolRegister: def(PoolRegistryJobs.register, PoolRegistration, Empty),
  poolDeregister: def(PoolRegistryJobs.deregister, PoolDeregistration, Empty),
} as const;

export type PayloadOf<D> = D extends JobDef<infer P, TSchema> ? Static<P> : never;
export type ResultOf<D> = D extends JobDef<TSchema, infer R> ? Static<R> : never;

export type OpenSessionPayload = Static<typeof OpenSessionPayload>;
export type OpenSessionResult = Static<typeof OpenSessionResult>;
export type ExecutePayload = Static<typeof ExecutePayload>;
export type ExecuteResult = Static<typeof ExecuteResult>;
export type PersistPayload = Static<typeof PersistPayload>;
export type PersistResult = Static<typeof PersistResult>;
export type ClosePayload = Static<typeof ClosePayload>;
export type FilePutPayload = Static<typeof FilePutPayload>;
export type FileGetPayload = Static<typeof FileGetPayload>;
export type FileGetResult = Static<typeof FileGetResult>;
export type FileEntry = Static<typeof FileEntry>;
export type FileListResult = Static<typeof FileListResult>;
export type FileDeletePayload = Static<typeof FileDeletePayload>;
export type PackagesInstallPayload = Static<typeof PackagesInstallPayload>;
export type PackagesInstallResult = Static<typeof PackagesInstallResult>;
export type PackagesListResult = Static<typeof PackagesListResult>;
export type SnapshotPayload = Static<typeof SnapshotPayload>;
export type SnapshotResult = Static<typeof SnapshotResult>;
export type RestorePayload = Static<typeof RestorePayload>;
export type RestoreResult = Static<typeof RestoreResult>;
export type PodSessionsResult = Static<typeof PodSessionsResult>;
