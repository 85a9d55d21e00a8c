import { Inject, Injectable } from '@nestjs/common';
import { lstat, mkdir, readdir, readFile, rm, writeFile, chown } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type Redis from 'ioredis';
import {
  JobError,
  executorTag,
  putTransfer,
  takeTransfer,
  type BlobRef,
  type FileEntry,
  type FileGetResult,
} from '@executor/queues';
import { EXECUTOR_CONFIG, type ExecutorConfig } from '../config/executor.config';
import type { Session } from '../sessions/session';
import { REDIS } from '../tokens';
import { resolveWorkspacePath } from './workspace-paths';

/** File operations on a session's workspace (called under the session's mutex). */
@Injectable()
export class FilesService {
  /** Transfers this pod writes are under its executor tag (its Redis user reaches only those). */
  private readonly tag: string;

  constructor(
    @Inject(EXECUTOR_CONFIG) private readonly cfg: ExecutorConfig,
    @Inject(REDIS) private readonly redis: Redis,
  ) {
    this.tag = executorTag({ pool: cfg.POOL_NAME, pod: cfg.POD_NAME });
  }

  async put(s: Session, path: string, blob: BlobRef): Promise<{ size: number }> {
    const abs = await resolveWorkspacePath(s.slot.work, path);
    if (blob.size > this.cfg.MAX_FILE_BYTES) {
      await this.redis.del(blob.key);
      throw new JobError(
        'payload_too_large',
        `file is ${blob.size} bytes; the limit is ${this.cfg.MAX_FILE_BYTES}`,
      );
    }
    const bytes = await takeTransfer(this.redis, blob);
    const existing = await lstat(abs).catch(() => undefined);
    if (existing?.isDirectory()) throw new JobError('conflict', `"${path}" is a directory`);
    await this.mkdirs(s, dirname(abs));
    // Re-check after creating parents: nothing on the way may have become a link out.
    await resolveWorkspacePath(s.slot.work, path);
    if (existing?.isSymbolicLink()) await rm(abs, { force: true });
    await writeFile(abs, bytes, { flag: 'w' });
    if (s.slot.uid !== undefined) await chown(abs, s.slot.uid, s.slot.uid);
    return { size: bytes.length };
  }

  async get(s: Session, path: string): Promise<FileGetResult> {
    const abs = await resolveWorkspacePath(s.slot.work, path);
    const st = await lstat(abs).catch(() => undefined);
    if (!st || st.isDirectory()) throw new JobError('not_found', `no file "${path}" in the workspace`);
    if (st.size > this.cfg.MAX_FILE_BYTES)
      throw new JobError(
        'payload_too_large',
        `file is ${st.size} bytes; the limit is ${this.cfg.MAX_FILE_BYTES}`,
      );
    const bytes = await readFile(abs);
    const blob = await putTransfer(this.redis, bytes, { prefix: this.cfg.QUEUE_PREFIX, scope: this.tag });
    return { blob, size: bytes.length };
  }

  async list(s: Session): Promise<FileEntry[]> {
    const out: FileEntry[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const abs = join(dir, e.name);
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(abs, r);
        else if (e.isFile()) {
          const st = await lstat(abs).catch(() => undefined);
          if (st) out.push({ path: r, size: st.size, modifiedAt: st.mtime.toISOString() });
        }
      }
    };
    await walk(s.slot.work, '');
    out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return out;
  }

  async delete(s: Session, path: string): Promise<boolean> {
    const abs = await resolveWorkspacePath(s.slot.work, path);
    const st = await lstat(abs).catch(() => undefined);
    if (!st) throw new JobError('not_found', `no file "${path}" in the workspace`);
    await rm(abs, { recursive: true, force: true });
    return true;
  }

  private async mkdirs(s: Session, dir: string): Promise<void> {
    const created = await mkdir(dir, { recursive: true });
    if (created && s.slot.uid !== undefined) {
      // chown every directory mkdir created (from the first new one down)
      let d = dir;
      const made: string[] = [];
      while (d.length >= created.length) {
        made.push(d);
        d = dirname(d);
      }
      for (const m of made) await chown(m, s.slot.uid, s.slot.uid);
    }
  }
}
