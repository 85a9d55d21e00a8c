import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import type { ProcessEvent as CoreEvent } from '@executor/queues';
import { ProcessesService, type ProcessHandle, type ProcessSelector } from '../../commands/processes.service';
import type { LiveSession } from '../../sessions/session-caller.service';
import { EventQueue, superviseStream, type OpenStreams } from '../sandbox/event-queue';
import { toConnectError } from '../sandbox/sandbox-errors';
import type { SandboxResolver } from '../sandbox/sandbox-resolver.service';
import { rpcSandbox } from './filesystem.rpc';
import { Process, Signal, type ProcessSelector as PbSelector } from './gen/process/process_pb';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ProcessEventSchema } from './gen/process/process_pb';

type EventInit = MessageInitShape<typeof ProcessEventSchema>;

function selector(sel: PbSelector | undefined): ProcessSelector {
  const s = sel?.selector;
  if (s?.case === 'pid') return { pid: s.value };
  if (s?.case === 'tag') return { tag: s.value };
  throw new ConnectError('process: a pid or a tag is required', Code.InvalidArgument);
}

async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toConnectError(err);
  }
}

/**
 * Streams a process's events as envd does: `start {pid}`, `data` chunks as they are produced,
 * keepalives, then `end` (exit code, status). The client leaving does not stop the process
 * (envd semantics); the stream ends with the process or the client.
 */
async function* processStream(
  ctx: HandlerContext,
  streams: OpenStreams,
  open: (onEvent: (e: CoreEvent) => void) => Promise<ProcessHandle>,
): AsyncGenerator<{ event: EventInit }> {
  const queue = new EventQueue<CoreEvent | 'keepalive'>();
  const handle = await guarded(() => open((e) => queue.push(e)));
  const cleanup = superviseStream(ctx, streams, queue, () => void handle.detach());
  try {
    yield { event: { event: { case: 'start', value: { pid: handle.pid } } } };
    for await (const e of queue) {
      if (e === 'keepalive') yield { event: { event: { case: 'keepalive', value: {} } } };
      else if (e.t === 'stdout' || e.t === 'stderr')
        yield {
          event: {
            event: { case: 'data', value: { output: { case: e.t, value: Buffer.from(e.data, 'base64') } } },
          },
        };
      else if (e.t === 'end') {
        yield {
          event: {
            event: {
              case: 'end',
              value: {
                exitCode: e.exitCode,
                exited: e.exited,
                status: e.status,
                ...(e.error ? { error: e.error } : {}),
              },
            },
          },
        };
        return;
      }
    }
    if (!ctx.signal.aborted)
      throw new ConnectError(
        'the stream closed before the process ended (load balancer shutting down)',
        Code.Unavailable,
      );
  } finally {
    cleanup();
  }
}

/** envd's process service over the session's processes (commands in its sandbox). */
export function processService(
  resolver: SandboxResolver,
  processes: ProcessesService,
  streams: OpenStreams,
): Partial<ServiceImpl<typeof Process>> {
  const sandbox = (ctx: HandlerContext): Promise<LiveSession> => rpcSandbox(resolver, ctx);
  return {
    async *start(req, ctx) {
      const sb = await sandbox(ctx);
      if (req.pty) throw new ConnectError('pty: terminals are not supported', Code.Unimplemented);
      if (!req.process?.cmd) throw new ConnectError('process.cmd is required', Code.InvalidArgument);
      const cfg = req.process;
      yield* processStream(ctx, streams, (onEvent) =>
        processes.start(
          sb,
          {
            cmd: cfg.cmd,
            args: cfg.args,
            envs: cfg.envs,
            ...(cfg.cwd ? { cwd: cfg.cwd } : {}),
            stdin: req.stdin ?? true,
            ...(req.tag ? { tag: req.tag } : {}),
            // envd: the process is killed when the request's deadline passes (not when the client leaves).
            timeoutMs: ctx.timeoutMs() ?? 0,
          },
          (e) => {
            if (e.t !== 'start') onEvent(e);
          },
        ),
      );
    },
    async *connect(req, ctx) {
      const sb = await sandbox(ctx);
      const sel = selector(req.process);
      yield* processStream(ctx, streams, (onEvent) => processes.attach(sb, sel, onEvent));
    },
    async list(_req, ctx) {
      const sb = await sandbox(ctx);
      const items = await guarded(() => processes.list(sb));
      return {
        processes: items.map((p) => ({
          pid: p.pid,
          ...(p.tag ? { tag: p.tag } : {}),
          config: { cmd: p.cmd, args: p.args, envs: p.envs, cwd: p.cwd },
        })),
      };
    },
    async sendInput(req, ctx) {
      const sb = await sandbox(ctx);
      const input = req.input?.input;
      if (input?.case !== 'stdin')
        throw new ConnectError('input.stdin is required (no pty)', Code.InvalidArgument);
      await guarded(() => processes.input(sb, selector(req.process), Buffer.from(input.value)));
      return {};
    },
    async closeStdin(req, ctx) {
      const sb = await sandbox(ctx);
      await guarded(() => processes.closeStdin(sb, selector(req.process)));
      return {};
    },
    async sendSignal(req, ctx) {
      const sb = await sandbox(ctx);
      const signal =
        req.signal === Signal.SIGKILL ? 'SIGKILL' : req.signal === Signal.SIGTERM ? 'SIGTERM' : undefined;
      if (!signal) throw new ConnectError('signal: SIGNAL_SIGKILL or SIGNAL_SIGTERM', Code.InvalidArgument);
      await guarded(() => processes.signal(sb, selector(req.process), signal));
      return {};
    },
  };
}
