import { Type, type Static } from '@sinclair/typebox';
import { Id, SessionEnvelope, StringMap } from './envelope';

/** Signals a caller may send to a process. */
export const PROCESS_SIGNALS = ['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP'] as const;
export type ProcessSignal = (typeof PROCESS_SIGNALS)[number];

/** Milliseconds a finished process stays visible to `process.get` (re-attach reports its end). */
export const ENDED_PROCESS_RETENTION_MS = 60_000;

export const ProcessStartPayload = Type.Object({
  ...SessionEnvelope,
  /** Caller-chosen id naming the event channel: `procChannel(prefix, sessionId, procId)`. */
  procId: Id('process id chosen by the caller (names its event channel)'),
  cmd: Type.String({ minLength: 1, maxLength: 4096 }),
  args: Type.Array(Type.String({ maxLength: 1 << 20 }), { maxItems: 4096 }),
  envs: StringMap,
  /** Sandbox path (absolute under /home/user or /tmp, or relative to /home/user); default /home/user. */
  cwd: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  /** True: stdin is a pipe fed by `process.input` until `process.closeStdin`; false: /dev/null. */
  stdin: Type.Boolean(),
  tag: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  /** Kill (SIGKILL) after this many ms; 0 or absent: no limit. */
  timeoutMs: Type.Optional(Type.Integer({ minimum: 0 })),
});
export const ProcessStartResult = Type.Object({ pid: Type.Integer({ minimum: 1 }) });

export const ProcessInfo = Type.Object({
  pid: Type.Integer(),
  procId: Type.String(),
  tag: Type.Optional(Type.String()),
  cmd: Type.String(),
  args: Type.Array(Type.String()),
  envs: StringMap,
  /** Sandbox path of the working directory. */
  cwd: Type.String(),
});
export type ProcessInfo = Static<typeof ProcessInfo>;

/** How a process ended (envd's ProcessEvent.end): `status` is `exit status N` or `signal: killed` … */
export const ProcessEnd = Type.Object({
  /** The exit code, or -1 when a signal ended it. */
  exitCode: Type.Integer(),
  /** True when it exited by itself (exit code), false when a signal ended it. */
  exited: Type.Boolean(),
  status: Type.String(),
  error: Type.Optional(Type.String()),
});
export type ProcessEnd = Static<typeof ProcessEnd>;

/** `pid` or `tag` selects a process (exactly one of them). */
const Selector = {
  pid: Type.Optional(Type.Integer({ minimum: 1 })),
  tag: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
};
export const ProcessListPayload = Type.Object({ ...SessionEnvelope });
export const ProcessListResult = Type.Object({ items: Type.Array(ProcessInfo) });
export const ProcessGetPayload = Type.Object({ ...SessionEnvelope, ...Selector });
export const ProcessGetResult = Type.Composite([
  ProcessInfo,
  Type.Object({ ended: Type.Optional(ProcessEnd) }),
]);
export const ProcessSelectorPayload = Type.Object({ ...SessionEnvelope, ...Selector });
export const ProcessInputPayload = Type.Object({
  ...SessionEnvelope,
  ...Selector,
  /** Bytes for the process's stdin, base64. */
  data: Type.String({ maxLength: 8 << 20 }),
});
export const ProcessSignalPayload = Type.Object({
  ...SessionEnvelope,
  ...Selector,
  signal: Type.Union(PROCESS_SIGNALS.map((s) => Type.Literal(s))),
});

/**
 * Events on `procChannel(prefix, sessionId, procId)`, in order: `start` (once, before any output),
 * output chunks (base64, as read from the pipes), `end` (once, last).
 */
export const ProcessEvent = Type.Union([
  Type.Object({ t: Type.Literal('start'), pid: Type.Integer() }),
  Type.Object({
    t: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
    data: Type.String({ description: 'base64' }),
  }),
  Type.Composite([Type.Object({ t: Type.Literal('end') }), ProcessEnd]),
]);
export type ProcessEvent =
  { t: 'start'; pid: number } | { t: 'stdout' | 'stderr'; data: string } | ({ t: 'end' } & ProcessEnd);

export type ProcessStartPayload = Static<typeof ProcessStartPayload>;
export type ProcessGetPayload = Static<typeof ProcessGetPayload>;
export type ProcessGetResult = Static<typeof ProcessGetResult>;
export type ProcessSelectorPayload = Static<typeof ProcessSelectorPayload>;
export type ProcessInputPayload = Static<typeof ProcessInputPayload>;
export type ProcessSignalPayload = Static<typeof ProcessSignalPayload>;
