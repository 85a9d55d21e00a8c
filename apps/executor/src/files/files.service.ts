import { Inject, Injectable } from '@nestjs/common';
import type Redis from 'ioredis';
import {
  JobError,
  putTransfer,
  takeTransfer,
  type BlobRef,
  type FileEntry,
  type FileGetResult,
} from '@executor/queues';
import { workspacePath, type WorkspaceFs } from '@executor/workspace-fs';
import { EXECUTOR_CONFIG, type ExecutorConfig } from '../config/executor.config';
import { SandboxService } from '../sandbox/sandbox.service';
import type { Session } from '../sessions/session';
import { REDIS } from '../tokens';
import { toJobError, type FileOp } from './fs-errors';
import { workspaceFs } from './session-fs';

/**
 * File operations on a session's workspace (called under the session's mutex), all through
 * libs/workspace-fs: every component opened without following links, symlinks followed only while
 * they stay inside the workspace, files written as the session's uid and replaced atomically.
 */
@Injectable()
export class FilesService {
  constructor(
    @Inject(EXECUTOR_CONFIG) private readonly cfg: ExecutorConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly sandbox: SandboxService,
  ) {}

  /** The session's workspace as a WorkspaceFs (no-follow I/O, owner = the session's uid). */
  workspace(s: Session): WorkspaceFs {
    return workspaceFs(this.sandbox.sandbox, s.slot, this.cfg.MAX_FILE_BYTES);
  }

  private async run<T>(op: FileOp, path: string, fn: (rel: string) => Promise<T>): Promise<T> {
    let rel: string;
    try {
      rel = workspacePath(path);
    } catch (err) {
      throw toJobError(err, op, path);
    }
    try {
      return await fn(rel);
    } catch (err) {
      throw toJobError(err, op, path);
    }
  }

  async put(s: Session, path: string, blob: BlobRef): Promise<{ size: number }> {
    return this.run('write', path, async (rel) => {
      if (blob.size > this.cfg.MAX_FILE_BYTES) {
        await this.redis.del(blob.key);
        throw new JobError(
          'payload_too_large',
          `file is ${blob.size} bytes; the limit is ${this.cfg.MAX_FILE_BYTES}`,
        );
      }
      const bytes = await takeTransfer(this.redis, blob);
      await this.workspace(s).writeFile(rel, bytes);
      return { size: bytes.length };
    });
  }

  async get(s: Session, path: string): Promise<FileGetResult> {
    return this.run('read', path, async (rel) => {
      const bytes = await this.workspace(s).readFile(rel);
      const blob = await putTransfer(this.redis, bytes, { prefix: this.cfg.QUEUE_PREFIX });
      return { blob, size: bytes.length };
    });
  }

  /** Every regular file, recursively (symlinks are not followed; entries that vanish meanwhile are left out). */
  async list(s: Session): Promise<FileEntry[]> {
    const out: FileEntry[] = [];
    try {
      await this.workspace(s).walk('', {
        visit: (e) => {
          if (e.type === 'file')
            out.push({ path: e.path, size: e.stat.size, modifiedAt: e.stat.mtime.toISOString() });
          return e.type === 'dir';
        },
      });
    } catch (err) {
      throw toJobError(err, 'list', '');
    }
    out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return out;
  }

  /** Removes a file or a directory tree (a symlink itself, never what it points to). */
  async delete(s: Session, path: string): Promise<boolean> {
    return this.run('delete', path, async (rel) => {
      await this.workspace(s).remove(rel);
      return true;
    });
  }
}
