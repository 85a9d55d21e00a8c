import { constants as C, type Stats } from 'node:fs';
import {
  lchown,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  readlink,
  rename,
  rmdir,
  symlink,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { isEntryName } from './client-path';
import { WorkspaceFsError, WorkspaceFsErrorCodes } from './errors';

/**
 * The I/O primitive: an open directory and "*at" operations relative to it.
 *
 * Node has no openat(2). Instead every operation names `/proc/self/fd/<fd>/<name>`: the kernel
 * resolves the magic link `/proc/self/fd/<fd>` to the very directory the descriptor refers to
 * (no path is re-walked, so renaming or replacing its ancestors changes nothing), then looks up the
 * single component `<name>` in it. `name` is checked to be one entry name (no `/`, not `.`/`..`),
 * and every open adds `O_NOFOLLOW`, so that last step cannot follow a symlink either. Together:
 * the equivalent of `openat(fd, name, O_NOFOLLOW)`, race-free against any rename/symlink swap
 * done concurrently by session code (see the README).
 */

/** Open a directory without following a symlink in its last component. */
export const O_DIR = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
/** Open a file for reading: no symlink, never blocks on a FIFO, never becomes a controlling tty. */
export const O_READ = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY;
/** Create a new file (fails if anything exists there, symlinks included). */
export const O_CREATE_NEW = C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY;
/** Open an existing file for writing in place (restore); no symlink, no FIFO block. */
export const O_WRITE_EXISTING = C.O_WRONLY | C.O_NOFOLLOW | C.O_NONBLOCK | C.O_NOCTTY;

/** Owner given to everything created (the session's uid/gid). */
export interface Owner {
  uid: number;
  gid: number;
}

export class DirHandle {
  private closed = false;

  private constructor(
    readonly fh: FileHandle,
    /** Path of this directory relative to the root it was reached from (`''` for the root). */
    readonly path: string,
  ) {}

  /**
   * Opens a root directory by its host path (controlled by the caller, not by session code). Its
   * last component must be a directory, not a symlink.
   */
  static async openRoot(hostPath: string): Promise<DirHandle> {
    return new DirHandle(await open(hostPath, O_DIR), '');
  }

  /** `/proc/self/fd/<fd>`: this directory, for APIs that take a path (fs.watch, readdir). */
  get procPath(): string {
    this.assertOpen();
    return `/proc/self/fd/${this.fh.fd}`;
  }

  /** `/proc/self/fd/<fd>/<name>` — `name` must be a single entry name. */
  at(name: string): string {
    if (!isEntryName(name))
      throw new WorkspaceFsError(WorkspaceFsErrorCodes.invalidPath, name, `"${name}" is not an entry name`);
    return `${this.procPath}/${name}`;
  }

  /** Opens the sub-directory `name` (ENOTDIR when it is a symlink or not a directory). */
  async child(name: string, path: string): Promise<DirHandle> {
    return new DirHandle(await open(this.at(name), O_DIR), path);
  }

  /** fstat of this directory. */
  stat(): Promise<Stats> {
    return this.fh.stat();
  }

  lstat(name: string): Promise<Stats> {
    return lstat(this.at(name));
  }

  readlink(name: string): Promise<string> {
    return readlink(this.at(name));
  }

  /**
   * The entry names, at most `max` (more → `too_large`). One getdents pass (readdir); the slot's
   * inode limit (tmpfs `nr_inodes`) bounds what a directory can hold.
   */
  async names(max = Number.POSITIVE_INFINITY): Promise<string[]> {
    const out = await readdir(this.procPath);
    if (out.length > max) {
      throw new WorkspaceFsError(
        WorkspaceFsErrorCodes.tooLarge,
        this.path,
        `directory "${this.path || '.'}" has more than ${max} entries`,
      );
    }
    return out;
  }

  open(name: string, flags: number, mode?: number): Promise<FileHandle> {
    return open(this.at(name), flags, mode);
  }

  /** mkdirat: never follows a symlink at `name` (EEXIST). */
  mkdir(name: string, mode: number): Promise<void> {
    return mkdir(this.at(name), { mode }).then(() => undefined);
  }

  unlink(name: string): Promise<void> {
    return unlink(this.at(name));
  }

  rmdir(name: string): Promise<void> {
    return rmdir(this.at(name));
  }

  symlink(target: string, name: string): Promise<void> {
    return symlink(target, this.at(name));
  }

  lchown(name: string, owner: Owner): Promise<void> {
    return lchown(this.at(name), owner.uid, owner.gid);
  }

  lutimes(name: string, atime: number | Date, mtime: number | Date): Promise<void> {
    return lutimes(this.at(name), atime, mtime);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close().catch(() => undefined);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`directory handle of "${this.path || '.'}" is closed`);
  }
}

/** renameat(2) between two open directories (never follows links in either last component). */
export function renameAt(from: DirHandle, fromName: string, to: DirHandle, toName: string): Promise<void> {
  return rename(from.at(fromName), to.at(toName));
}
