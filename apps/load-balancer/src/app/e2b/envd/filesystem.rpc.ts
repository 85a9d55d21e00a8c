import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import type { WatchEvent } from '@executor/queues';
import { FilesService } from '../../files/files.service';
import { EventQueue, superviseStream, type OpenStreams } from '../sandbox/event-queue';
import { sandboxUser } from '../sandbox/sandbox-auth';
import { SandboxAuthError, toConnectError } from '../sandbox/sandbox-errors';
import type { SandboxResolver } from '../sandbox/sandbox-resolver.service';
import type { LiveSession } from '../../sessions/session-caller.service';
import { toEntryInfo, toEventType } from './entry';
import { Filesystem } from './gen/filesystem/filesystem_pb';

/** Resolves the sandbox of an envd RPC (token, user) or throws a Connect error. */
export async function rpcSandbox(resolver: SandboxResolver, ctx: HandlerContext): Promise<LiveSession> {
  try {
    if (!sandboxUser(undefined, ctx.requestHeader.get('authorization') ?? undefined))
      throw new SandboxAuthError('unknown user: the sandbox has the user "user"');
    return await resolver.resolve(ctx.requestHeader, 'envd');
  } catch (err) {
    throw toConnectError(err);
  }
}

async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toConnectError(err);
  }
}

/** envd's filesystem service over the session's files (same files as the kernel, commands and /v1). */
export function filesystemService(
  resolver: SandboxResolver,
  files: FilesService,
  streams: OpenStreams,
): Partial<ServiceImpl<typeof Filesystem>> {
  return {
    async stat(req, ctx) {
      const sb = await rpcSandbox(resolver, ctx);
      return guarded(async () => ({ entry: toEntryInfo(await files.stat(sb, req.path)) }));
    },
    async listDir(req, ctx) {
      const sb = await rpcSandbox(resolver, ctx);
      return guarded(async () => ({
        entries: (await files.list(sb, req.path, Math.max(1, req.depth || 1))).map(toEntryInfo),
      }));
    },
    async makeDir(req, ctx) {
      const sb = await rpcSandbox(resolver, ctx);
      const r = await guarded(() => files.mkdir(sb, req.path));
      if (!r.created) throw new ConnectError(`directory already exists: ${r.entry.path}`, Code.AlreadyExists);
      return { entry: toEntryInfo(r.entry) };
    },
    async move(req, ctx) {
      const sb = await rpcSandbox(resolver, ctx);
      return guarded(async () => ({ entry: toEntryInfo(await files.move(sb, req.source, req.destination)) }));
    },
    async remove(req, ctx) {
      const sb = await rpcSandbox(resolver, ctx);
      await guarded(() => files.remove(sb, req.path));
      return {};
    },
    async *watchDir(req, ctx) {
      const sb = await rpcSandbox(resolver, ctx);
      const queue = new EventQueue<WatchEvent | 'keepalive'>();
      const watch = await guarded(() => files.watch(sb, req.path, req.recursive, (e) => queue.push(e)));
      const cleanup = superviseStream(ctx, streams, queue, () => void watch.stop());
      try {
        yield { event: { case: 'start', value: {} } };
        for await (const e of queue) {
          if (e === 'keepalive') {
            yield { event: { case: 'keepalive', value: {} } };
            continue;
          }
          if (e.t === 'end') break;
          yield {
            event: {
              case: 'filesystem',
              value: {
                name: e.name,
                type: toEventType(e.type),
                ...(req.includeEntry && e.entry ? { entry: toEntryInfo(e.entry) } : {}),
              },
            },
          };
        }
      } finally {
        cleanup();
      }
    },
  };
}
