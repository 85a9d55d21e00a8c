import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import {
  cancelPipe,
  createPipeRef,
  failPipe,
  PipeError,
  PodJobDefs,
  readPipe,
  watchChannel,
  writePipe,
  WATCH_IDLE_TTL_MS,
  type EntryInfo,
  type JobRpcClient,
  type WatchEvent,
} from '@executor/queues';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { REDIS, RPC } from '../core/tokens';
import { ApiError } from '../http/api-error';
import { SessionCaller, type LiveSession } from '../sessions/session-caller.service';

/** A file being downloaded: its bytes as they arrive from the pod (never buffered whole). */
export interface FileDownload {
  /** True when the file is empty (known before any byte is sent). */
  empty: boolean;
  body: AsyncIterable<Buffer>;
}

/** A running watch; `stop()` ends it on the pod. */
export interface WatchHandle {
  stop(): Promise<void>;
}

/**
 * Files of a session on sandbox paths (`/home/user/...`, `/tmp/...`, or relative to /home/user):
 * metadata calls as pod jobs; contents streamed through bounded Redis pipes (a window of chunks,
 * acks), so a file is never held whole in this process, in Redis or in the executor.
 */
@Injectable()
export class FilesService {
  private readonly logger = new Logger(FilesService.name);

  constructor(
    private readonly caller: SessionCaller,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(RPC) private readonly rpc: JobRpcClient,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
  ) {}

  /** Transfers take as long as the client sends or reads; pipes bound each stall to 30 s. */
  private get transferTimeoutMs(): number {
    return this.config.POD_CALL_TIMEOUT_MS * 20;
  }

  private call<T>(
    loaded: LiveSession,
    def: Parameters<SessionCaller['callLoaded']>[1],
    extra: Record<string, unknown>,
    timeoutMs = this.config.POD_CALL_TIMEOUT_MS,
  ): Promise<T> {
    return this.caller
      .callLoaded(loaded, def, (s) => ({ sessionId: s.id, tenant: s.tenant, ...extra }) as never, timeoutMs)
      .then((r) => r.result as T);
  }

  stat(loaded: LiveSession, path: string): Promise<EntryInfo> {
    return this.call<{ entry: EntryInfo }>(loaded, PodJobDefs.fsStat, { path }).then((r) => r.entry);
  }

  list(loaded: LiveSession, path: string, depth: number): Promise<EntryInfo[]> {
    return this.call<{ entries: EntryInfo[] }>(loaded, PodJobDefs.fsList, { path, depth }).then(
      (r) => r.entries,
    );
  }

  mkdir(loaded: LiveSession, path: string): Promise<{ entry: EntryInfo; created: boolean }> {
    return this.call(loaded, PodJobDefs.fsMkdir, { path });
  }

  move(loaded: LiveSession, source: string, destination: string): Promise<EntryInfo> {
    return this.call<{ entry: EntryInfo }>(loaded, PodJobDefs.fsMove, { source, destination }).then(
      (r) => r.entry,
    );
  }

  async remove(loaded: LiveSession, path: string): Promise<void> {
    await this.call(loaded, PodJobDefs.fsRemove, { path });
  }

  /**
   * Starts a download. Resolves once the first chunk (or the end, or the pod's error) is there, so
   * a missing file is an error before any header is sent; then the rest streams as it is read.
   */
  async read(loaded: LiveSession, path: string): Promise<FileDownload> {
    const pipe = createPipeRef(this.config.QUEUE_PREFIX);
    const job = this.call<{ size: number }>(
      loaded,
      PodJobDefs.fsRead,
      { path, pipe },
      this.transferTimeoutMs,
    );
    // If the job fails, end the pipe so the reader stops waiting for chunks.
    const failed = job.then(
      () => undefined,
      async (err: unknown) => {
        await failPipe(this.redis, pipe, 'read failed').catch(() => undefined);
        return err;
      },
    );
    const it = readPipe(this.redis, pipe)[Symbol.asyncIterator]();
    let first: IteratorResult<Buffer>;
    try {
      first = await it.next();
    } catch (err) {
      const jobErr = await failed;
      throw jobErr ?? err;
    }
    if (first.done) {
      const jobErr = await failed;
      if (jobErr) throw jobErr;
      return {
        empty: true,
        body: (async function* () {
          // an empty file: no chunk
        })(),
      };
    }
    const firstChunk = first.value;
    const logger = this.logger;
    async function* body(): AsyncGenerator<Buffer> {
      try {
        yield firstChunk;
        for (;;) {
          const r = await it.next();
          if (r.done) break;
          yield r.value;
        }
        const jobErr = await failed;
        if (jobErr) throw jobErr;
      } finally {
        await it.return?.(undefined);
        void failed.then((e) => e && logger.warn(`download of ${path} failed: ${(e as Error).message}`));
      }
    }
    return { empty: false, body: body() };
  }

  /**
   * Writes a file from a byte stream (parents created, overwritten). More than MAX_FILE_BYTES → 413
   * (the partial upload is abandoned by the pod).
   */
  async write(
    loaded: LiveSession,
    path: string,
    source: AsyncIterable<Buffer | Uint8Array>,
  ): Promise<EntryInfo> {
    const pipe = createPipeRef(this.config.QUEUE_PREFIX);
    const max = this.config.MAX_FILE_BYTES;
    let tooLarge = false;
    async function* limited(): AsyncGenerator<Buffer> {
      let n = 0;
      for await (const piece of source) {
        const buf = Buffer.isBuffer(piece)
          ? piece
          : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        n += buf.length;
        if (n > max) {
          tooLarge = true;
          throw new ApiError('payload_too_large', `file larger than ${max} bytes`);
        }
        yield buf;
      }
    }
    const job = this.call<{ entry: EntryInfo }>(
      loaded,
      PodJobDefs.fsWrite,
      { path, pipe },
      this.transferTimeoutMs,
    );
    // A job that fails stops the writer (it may be waiting for acks that will never come).
    const jobDone = job.then(
      (r) => r,
      async (err: unknown) => {
        await cancelPipe(this.redis, pipe, 'write failed').catch(() => undefined);
        throw err;
      },
    );
    const writing = writePipe(this.redis, pipe, limited());
    const [w, j] = await Promise.allSettled([writing, jobDone]);
    if (tooLarge) throw new ApiError('payload_too_large', `file larger than ${max} bytes`);
    if (j.status === 'rejected') throw j.reason;
    if (w.status === 'rejected' && !(w.reason instanceof PipeError)) throw w.reason;
    return j.value.entry;
  }

  /** Watches a directory; `onEvent` gets changes until `stop()` (or an `end` event). Refreshed while alive. */
  async watch(
    loaded: LiveSession,
    path: string,
    recursive: boolean,
    onEvent: (event: WatchEvent) => void,
  ): Promise<WatchHandle> {
    const watchId = `watch-${randomUUID()}`;
    const s = loaded.session;
    const unsubscribe = await this.rpc.subscribe(watchChannel(this.config.QUEUE_PREFIX, s.id, watchId), (m) =>
      onEvent(m as WatchEvent),
    );
    const start = (): Promise<unknown> => this.call(loaded, PodJobDefs.fsWatch, { watchId, path, recursive });
    try {
      await start();
    } catch (err) {
      await unsubscribe();
      throw err;
    }
    // The pod drops a watch nobody refreshed for WATCH_IDLE_TTL_MS.
    const refresh = setInterval(
      () =>
        void start().catch((err: Error) =>
          this.logger.warn(`refresh of watch ${watchId} failed: ${err.message}`),
        ),
      Math.max(1000, WATCH_IDLE_TTL_MS / 3),
    );
    refresh.unref();
    let stopped = false;
    return {
      stop: async () => {
        if (stopped) return;
        stopped = true;
        clearInterval(refresh);
        await unsubscribe();
        await this.call(loaded, PodJobDefs.fsUnwatch, { watchId }).catch(() => undefined);
      },
    };
  }
}
