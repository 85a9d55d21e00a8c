import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import {
  JobError,
  cancelPipe,
  failPipe,
  isPipeOf,
  readPipe,
  writePipe,
  PipeError,
  type EntryInfo,
  type PipeRef,
} from '@executor/queues';
import { EXECUTOR_CONFIG, type ExecutorConfig } from '../config/executor.config';
import { toJobError, type FileOp } from '../files/fs-errors';
import type { Session } from '../sessions/session';
import { REDIS } from '../tokens';

/**
 * The fs.* jobs on sandbox paths (E2B's filesystem service): everything through the session's
 * {@link SandboxFs} (libs/workspace-fs: no-follow, fd-relative, as the session's uid), file bytes
 * through bounded Redis pipes (never a whole file in one buffer or key).
 */
@Injectable()
export class SandboxFsService {
  constructor(
    @Inject(EXECUTOR_CONFIG) private readonly cfg: ExecutorConfig,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  async stat(s: Session, path: string): Promise<{ entry: EntryInfo }> {
    const p = s.fs.parse(path);
    const e = await this.run('read', path, () => s.fs.area(p).stat(p.path));
    return { entry: s.fs.entry(p.area, e) };
  }

  async list(s: Session, path: string, depth: number): Promise<{ entries: EntryInfo[] }> {
    const p = s.fs.parse(path);
    const all = await this.run('list', path, () => s.fs.area(p).list(p.path, { depth }));
    // FIFOs, sockets and devices have no E2B type (the SDK would skip them): left out.
    return { entries: all.filter((e) => e.type !== 'other').map((e) => s.fs.entry(p.area, e)) };
  }

  async mkdir(s: Session, path: string): Promise<{ entry: EntryInfo; created: boolean }> {
    const p = s.fs.parse(path, { allowRoot: false });
    const r = await this.run('write', path, () => s.fs.area(p).mkdir(p.path));
    return { entry: s.fs.entry(p.area, r.entry), created: r.created };
  }

  async move(s: Session, source: string, destination: string): Promise<{ entry: EntryInfo }> {
    const from = s.fs.parse(source, { allowRoot: false });
    const to = s.fs.parse(destination, { allowRoot: false });
    const e = await this.run('write', source, () =>
      s.fs.area(from).rename(from.path, to.path, { target: s.fs.area(to) }),
    );
    return { entry: s.fs.entry(to.area, e) };
  }

  async remove(s: Session, path: string): Promise<Record<string, never>> {
    const p = s.fs.parse(path, { allowRoot: false });
    await this.run('delete', path, () => s.fs.area(p).remove(p.path, { recursive: true }));
    return {};
  }

  /** Streams the file into `pipe` (the caller reads it concurrently), then answers with its size. */
  async read(s: Session, path: string, pipe: PipeRef): Promise<{ size: number }> {
    this.checkPipe(pipe);
    let handle;
    try {
      const p = s.fs.parse(path, { allowRoot: false });
      handle = await this.run('read', path, () => s.fs.area(p).openRead(p.path));
    } catch (err) {
      await failPipe(this.redis, pipe, describe(err)).catch(() => undefined);
      throw err;
    }
    try {
      const r = await writePipe(this.redis, pipe, handle.chunks(pipe.chunkBytes), {
        timeoutMs: this.cfg.PIPE_TIMEOUT_MS,
      });
      return { size: r.bytes };
    } catch (err) {
      throw pipeJobError(err, path);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  /**
   * Reads `pipe` into the file (temp file + rename: readers see the old file or the new one),
   * parents created, as the session's uid; over MAX_FILE_BYTES or the workspace quota →
   * payload_too_large, and the writer is told to stop.
   */
  async write(s: Session, path: string, pipe: PipeRef): Promise<{ entry: EntryInfo }> {
    this.checkPipe(pipe);
    let p;
    try {
      p = s.fs.parse(path, { allowRoot: false });
    } catch (err) {
      await cancelPipe(this.redis, pipe, describe(err)).catch(() => undefined);
      throw err;
    }
    const source = readPipe(this.redis, pipe, { timeoutMs: this.cfg.PIPE_TIMEOUT_MS });
    const area = s.fs.area(p);
    const target = p;
    try {
      const e = await this.run('write', path, () =>
        area.writeFile(target.path, source, { maxBytes: this.cfg.MAX_FILE_BYTES }),
      );
      return { entry: s.fs.entry(p.area, e) };
    } catch (err) {
      // A refusal (too large, not a directory on the way…) stops the writer at once.
      await cancelPipe(this.redis, pipe, describe(err)).catch(() => undefined);
      throw pipeJobError(err, path);
    } finally {
      await source.return(undefined).catch(() => undefined);
    }
  }

  private checkPipe(pipe: PipeRef): void {
    if (!isPipeOf(this.cfg.QUEUE_PREFIX, pipe))
      throw new JobError('invalid_argument', `pipe "${pipe.key}" is not a pipe of this platform`);
  }

  private async run<T>(op: FileOp, path: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toJobError(err, op, path);
    }
  }
}

function describe(err: unknown): string {
  if (err instanceof JobError) return `${err.code}: ${err.detail}`;
  return (err as Error)?.message ?? String(err);
}

function pipeJobError(err: unknown, path: string): unknown {
  if (err instanceof PipeError) {
    return new JobError(
      err.reason === 'timeout' ? 'timeout' : err.reason === 'cancelled' ? 'unavailable' : 'invalid_argument',
      `transfer of "${path}": ${err.message}`,
    );
  }
  return err;
}
