import { Type, type Static } from '@sinclair/typebox';
import { Id, SessionEnvelope } from './envelope';
import { PipeRef } from './pipe';

/** Home (= workspace) and private tmp of a session, as session code sees them. */
export const SANDBOX_HOME = '/home/user';
export const SANDBOX_TMP_DIR = '/tmp';

/** A sandbox path: absolute under /home/user or /tmp, or relative to /home/user. */
const SandboxPath = Type.String({ minLength: 1, maxLength: 4096 });

export const EntryType = Type.Union([Type.Literal('file'), Type.Literal('dir'), Type.Literal('symlink')]);
export type EntryType = Static<typeof EntryType>;

/** One filesystem entry as E2B's envd describes it (owner/group named as inside the sandbox). */
export const EntryInfo = Type.Object({
  name: Type.String(),
  type: EntryType,
  /** Sandbox absolute path. */
  path: Type.String(),
  size: Type.Integer({ minimum: 0 }),
  /** Permission bits (e.g. 0o644 = 420). */
  mode: Type.Integer({ minimum: 0 }),
  /** `ls -l` style: `-rw-r--r--`, `drwxr-xr-x`, `lrwxrwxrwx`. */
  permissions: Type.String(),
  owner: Type.String(),
  group: Type.String(),
  /** ISO 8601. */
  modifiedTime: Type.String(),
  symlinkTarget: Type.Optional(Type.String()),
});
export type EntryInfo = Static<typeof EntryInfo>;

export const FsPathPayload = Type.Object({ ...SessionEnvelope, path: SandboxPath });
export const FsEntryResult = Type.Object({ entry: EntryInfo });
export const FsListPayload = Type.Object({
  ...SessionEnvelope,
  path: SandboxPath,
  depth: Type.Integer({ minimum: 1, maximum: 64, description: '1: the directory itself only' }),
});
export const FsListResult = Type.Object({ entries: Type.Array(EntryInfo) });
export const FsMkdirPayload = FsPathPayload;
export const FsMkdirResult = Type.Object({ entry: EntryInfo, created: Type.Boolean() });
export const FsMovePayload = Type.Object({
  ...SessionEnvelope,
  source: SandboxPath,
  destination: SandboxPath,
});
/** The executor streams the file into `pipe` (the caller reads it with `readPipe`), then answers. */
export const FsReadPayload = Type.Object({ ...SessionEnvelope, path: SandboxPath, pipe: PipeRef });
export const FsReadResult = Type.Object({ size: Type.Integer({ minimum: 0 }) });
/** The caller writes the bytes with `writePipe`; the executor reads them into the file, then answers. */
export const FsWritePayload = Type.Object({ ...SessionEnvelope, path: SandboxPath, pipe: PipeRef });
export const FsWatchPayload = Type.Object({
  ...SessionEnvelope,
  /** Caller-chosen id naming the event channel: `watchChannel(prefix, sessionId, watchId)`. */
  watchId: Id('watch id chosen by the caller (names its event channel)'),
  path: SandboxPath,
  recursive: Type.Boolean(),
});
export const FsUnwatchPayload = Type.Object({ ...SessionEnvelope, watchId: Id('watch id') });

/** Minutes a watch lives without a refresh (`fs.watch` again with the same id). */
export const WATCH_IDLE_TTL_MS = 10 * 60_000;

export const WatchEventType = Type.Union([
  Type.Literal('create'),
  Type.Literal('write'),
  Type.Literal('remove'),
  Type.Literal('rename'),
  Type.Literal('chmod'),
]);
export type WatchEventType = Static<typeof WatchEventType>;

/**
 * Events on `watchChannel(prefix, sessionId, watchId)`: `event` per change (`name` relative to the
 * watched directory; `entry` when the path still exists), `end` once when the watch stops by itself
 * (session closed, idle expiry, the watched directory removed) — not after `fs.unwatch`.
 */
export const WatchEvent = Type.Union([
  Type.Object({
    t: Type.Literal('event'),
    name: Type.String(),
    type: WatchEventType,
    entry: Type.Optional(EntryInfo),
  }),
  Type.Object({ t: Type.Literal('end'), reason: Type.String() }),
]);
export type WatchEvent =
  { t: 'event'; name: string; type: WatchEventType; entry?: EntryInfo } | { t: 'end'; reason: string };

export type FsPathPayload = Static<typeof FsPathPayload>;
export type FsListPayload = Static<typeof FsListPayload>;
export type FsMovePayload = Static<typeof FsMovePayload>;
export type FsReadPayload = Static<typeof FsReadPayload>;
export type FsWritePayload = Static<typeof FsWritePayload>;
export type FsWatchPayload = Static<typeof FsWatchPayload>;
export type FsUnwatchPayload = Static<typeof FsUnwatchPayload>;
