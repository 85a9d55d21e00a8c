import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { PassThrough, type Writable } from 'node:stream';
import { baseName, isCanonicalPath, joinPath } from './client-path';
import { DirHandle, O_CREATE_NEW, renameAt, type Owner } from './dir';
import { tempName } from './chain';
import { toEntryInfo, type EntryInfo } from './entry';
import { WorkspaceFsError, WorkspaceFsErrorCodes, errnoCode, isRaceError } from './errors';
import { openRegular, readAll, readChunks, READ_CHUNK_BYTES } from './read';
import { makeDir, resolvePath, type Resolved, type ResolveOptions } from './resolve';
import { removeEntry, walkTree, type WalkOptions } from './tree';

export interface WorkspaceFsOptions {
  /** Host path of the root (the slot's `work` or `tmp`). Chosen by the executor, never by a client. */
  root: string;
  /**
   * Absolute paths that name the root inside symlink targets: where session code sees it
   * (`/home/user`, `/tmp`) and, without a mount namespace, the host path. Default: `[root]`.
   */
  aliases?: readonly string[];
  /** Owner of everything created (the session's uid/gid); unchanged (the executor's) when absent. */
  owner?: Owner;
  /** Largest file read or written (bytes). Default unlimited. */
  maxFileBytes?: number;
  /** Mode of new files (default 0o644) and directories (default 0o755), exactly (no umask). */
  fileMode?: number;
  dirMode?: number;
  /** Entries returned by one `list` at most (more → `too_large`). Default 100 000. */
  maxListEntries?: number;
}

/** An open file for reading, found without following a link out of the root. */
export interface ReadHandle {
  readonly entry: EntryInfo;
  /** Size at open time (fstat). */
  readonly size: number;
  /** The bytes from offset 0 to EOF through the descriptor, in chunks; at most `maxBytes`. */
  chunks(chunkBytes?: number): AsyncGenerator<Buffer>;
  readAll(): Promise<Buffer>;
  close(): Promise<void>;
}

export type WriteSource = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface WriteOptions {
  /** Permission bits; default: those of the file replaced, else `fileMode`. */
  mode?: number;
  /** mtime to set (restore); default now. */
  mtimeMs?: number;
  /** Bound for this write (default `maxFileBytes`). */
  maxBytes?: number;
  /** Create missing parent directories (default true). */
  parents?: boolean;
}

/** Attempts at a file operation whose last component keeps flipping between a link and a file. */
const FINAL_ATTEMPTS = 4;

function fsError(
  code: (typeof WorkspaceFsErrorCodes)[keyof typeof WorkspaceFsErrorCodes],
  path: string,
  msg: string,
  cause?: unknown,
): WorkspaceFsError {
  return new WorkspaceFsError(code, path, msg, cause === undefined ? undefined : { cause });
}

/** ENOSPC & co. as `no_space`; others unchanged. */
function mapWriteError(err: unknown, path: string): unknown {
  const code = errnoCode(err);
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG')
    return fsError(WorkspaceFsErrorCodes.noSpace, path, `no space left for "${path}" (workspace quota)`, err);
  if (code === 'EISDIR')
    return fsError(WorkspaceFsErrorCodes.isDirectory, path, `"${path}" is a directory`, err);
  return err;
}

/**
 * No-follow file operations on one root (a session's workspace or tmp). Paths are canonical
 * relative paths (normalise client input with `parseClientPath` first); `''` is the root.
 * Symlinks on the way are followed only while they stay inside the root (resolved by this module,
 * see {@link resolvePath}); operations on an entry itself (stat, remove, rename, readlink) never
 * follow its last component. Every descriptor is closed before a call returns.
 */
export class WorkspaceFs {
  readonly root: string;
  private readonly aliases: readonly string[];
  private readonly owner?: Owner;
  private readonly maxFileBytes: number;
  private readonly fileMode: number;
  private readonly dirMode: number;
  private readonly maxListEntries: number;

  constructor(opts: WorkspaceFsOptions) {
    this.root = opts.root;
    this.aliases = opts.aliases ?? [opts.root];
    this.owner = opts.owner;
    this.maxFileBytes = opts.maxFileBytes ?? Number.MAX_SAFE_INTEGER;
    this.fileMode = opts.fileMode ?? 0o644;
    this.dirMode = opts.dirMode ?? 0o755;
    this.maxListEntries = opts.maxListEntries ?? 100_000;
  }

  /** Runs `fn` with the root open (closed afterwards). */
  async withRoot<T>(fn: (root: DirHandle) => Promise<T>): Promise<T> {
    const root = await DirHandle.openRoot(this.root);
    try {
      return await fn(root);
    } finally {
      await root.close();
    }
  }

  private async withResolved<T>(
    path: string,
    opts: ResolveOptions,
    fn: (r: Resolved) => Promise<T>,
  ): Promise<T> {
    checkPath(path);
    return this.withRoot(async (root) => {
      const r = await resolvePath(root, path, { aliases: this.aliases, ...opts });
      try {
        return await fn(r);
      } finally {
        await r.close();
      }
    });
  }

  private async entryAt(dir: DirHandle, name: string, path: string, st?: Stats): Promise<EntryInfo> {
    const stat = st ?? (await dir.lstat(name));
    const target = stat.isSymbolicLink() ? await dir.readlink(name).catch(() => undefined) : undefined;
    return toEntryInfo(name, path, stat, target);
  }

  // ------------------------------------------------------------------ stat / list

  /** The entry (a symlink as a symlink unless `follow`); `not_found` when absent. */
  async stat(path: string, opts: { follow?: boolean } = {}): Promise<EntryInfo> {
    return this.withResolved(path, { followFinal: opts.follow ?? false }, async (r) => {
      if (r.name === undefined) return toEntryInfo('', '', await r.dir.stat());
      try {
        return await this.entryAt(r.dir, r.name, path);
      } catch (err) {
        if (isRaceError(err))
          throw fsError(WorkspaceFsErrorCodes.notFound, path, `"${path}" does not exist`, err);
        throw err;
      }
    });
  }

  /** True when something (anything, a dangling symlink included) is at `path`. */
  async exists(path: string): Promise<boolean> {
    try {
      await this.stat(path);
      return true;
    } catch (err) {
      if (err instanceof WorkspaceFsError && (err.code === 'not_found' || err.code === 'not_a_directory'))
        return false;
      throw err;
    }
  }

  /** Opens a directory (a symlink to a directory inside the root is followed). The caller closes it. */
  async openDir(path: string): Promise<DirHandle> {
    checkPath(path);
    const root = await DirHandle.openRoot(this.root);
    let r: Resolved | undefined;
    try {
      r = await resolvePath(root, path, { aliases: this.aliases, followFinal: true });
      if (r.name === undefined) {
        await r.close();
        return root;
      }
      const dir = await this.childDir(r, path);
      await r.close();
      await root.close();
      return dir;
    } catch (err) {
      await r?.close();
      await root.close();
      throw err;
    }
  }

  private async childDir(r: Resolved, path: string): Promise<DirHandle> {
    try {
      return await r.dir.child(r.name as string, path);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT')
        throw fsError(WorkspaceFsErrorCodes.notFound, path, `"${path}" does not exist`, err);
      if (code === 'ENOTDIR' || code === 'ELOOP')
        throw fsError(WorkspaceFsErrorCodes.notDirectory, path, `"${path}" is not a directory`, err);
      throw err;
    }
  }

  /**
   * Entries under the directory `path` down to `depth` levels (1 = its own entries), sorted by
   * path; never follows a symlink below `path` (it is listed as a symlink with its target).
   * Entries that vanish while listed are left out.
   */
  async list(path: string, opts: { depth?: number; maxEntries?: number } = {}): Promise<EntryInfo[]> {
    const depth = Math.max(1, opts.depth ?? 1);
    const max = opts.maxEntries ?? this.maxListEntries;
    const out: EntryInfo[] = [];
    const dir = await this.openDir(path);
    try {
      await walkTree(dir, {
        maxDepth: depth,
        maxDirEntries: max,
        visit: async (e) => {
          if (out.length >= max)
            throw fsError(
              WorkspaceFsErrorCodes.tooLarge,
              path,
              `more than ${max} entries under "${path || '.'}"`,
            );
          let target: string | undefined;
          if (e.type === 'symlink') {
            try {
              target = await e.dir.readlink(e.name);
            } catch (err) {
              if (isRaceError(err)) return false; // replaced meanwhile
              throw err;
            }
          }
          out.push(toEntryInfo(e.name, joinPath(path, e.path), e.stat, target));
          return true;
        },
      });
    } finally {
      await dir.close();
    }
    out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return out;
  }

  /** {@link walkTree} from the directory `path` (entry paths relative to it). */
  async walk(path: string, opts: WalkOptions): Promise<void> {
    const dir = await this.openDir(path);
    try {
      await walkTree(dir, opts);
    } finally {
      await dir.close();
    }
  }

  // ------------------------------------------------------------------ read

  /**
   * Opens a regular file for reading (a symlink to a file inside the root is followed; FIFOs,
   * sockets and devices are `not_a_file`, never opened for their content). The caller closes it.
   */
  async openRead(path: string, opts: { maxBytes?: number } = {}): Promise<ReadHandle> {
    const maxBytes = opts.maxBytes ?? this.maxFileBytes;
    checkPath(path);
    if (path === '') throw fsError(WorkspaceFsErrorCodes.isDirectory, path, 'the root is a directory');
    const root = await DirHandle.openRoot(this.root);
    try {
      for (let attempt = 1; ; attempt++) {
        const r = await resolvePath(root, path, { aliases: this.aliases, followFinal: true });
        try {
          if (r.name === undefined)
            throw fsError(WorkspaceFsErrorCodes.isDirectory, path, `"${path}" is a directory`);
          let opened;
          try {
            opened = await openRegular(r.dir, r.name, path);
          } catch (err) {
            if (errnoCode(err) === 'ELOOP' && attempt < FINAL_ATTEMPTS) continue; // became a symlink: resolve again
            if (errnoCode(err) === 'ELOOP')
              throw fsError(WorkspaceFsErrorCodes.unstable, path, `"${path}" keeps changing`, err);
            throw err;
          }
          const { fh, stat } = opened;
          if (stat.size > maxBytes) {
            await fh.close();
            throw fsError(
              WorkspaceFsErrorCodes.tooLarge,
              path,
              `"${path}" is ${stat.size} bytes, more than ${maxBytes}`,
            );
          }
          return readHandle(fh, toEntryInfo(baseName(r.path), path, stat), maxBytes, path);
        } finally {
          await r.close();
        }
      }
    } finally {
      await root.close();
    }
  }

  /** The whole file (at most `maxBytes`). */
  async readFile(path: string, opts: { maxBytes?: number } = {}): Promise<Buffer> {
    const h = await this.openRead(path, opts);
    try {
      return await h.readAll();
    } finally {
      await h.close();
    }
  }

  /** The file in chunks through one descriptor (closed when the iteration ends or is abandoned). */
  async *readStream(
    path: string,
    opts: { maxBytes?: number; chunkBytes?: number } = {},
  ): AsyncGenerator<Buffer> {
    const h = await this.openRead(path, opts);
    try {
      yield* h.chunks(opts.chunkBytes);
    } finally {
      await h.close();
    }
  }

  // ------------------------------------------------------------------ write

  /**
   * Writes a whole file: the bytes go to a new temporary file next to it (created `O_EXCL`, owned
   * by `owner`), which then replaces the target with one rename — readers and snapshots see the
   * old file or the new one, never half of it, and a failed write (limit, broken stream) leaves
   * the old file as it was. A symlink as the last component is followed while it stays inside the
   * root (the file it points to is replaced). Parents are created (owner, `dirMode`) unless
   * `parents: false`. Bounded by `maxBytes`; a full workspace is `no_space`.
   */
  async writeFile(path: string, data: WriteSource, opts: WriteOptions = {}): Promise<EntryInfo> {
    const maxBytes = opts.maxBytes ?? this.maxFileBytes;
    if (path === '') throw fsError(WorkspaceFsErrorCodes.isDirectory, path, 'the root is a directory');
    const createParents = opts.parents === false ? undefined : { mode: this.dirMode, owner: this.owner };
    return this.withResolved(path, { followFinal: true, createParents }, async (r) => {
      if (r.name === undefined)
        throw fsError(WorkspaceFsErrorCodes.isDirectory, path, `"${path}" is a directory`);
      const name = r.name;
      let existing: Stats | undefined;
      try {
        existing = await r.dir.lstat(name);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
      if (existing?.isDirectory())
        throw fsError(WorkspaceFsErrorCodes.isDirectory, path, `"${path}" is a directory`);
      const mode = opts.mode ?? (existing?.isFile() ? existing.mode & 0o7777 : this.fileMode);
      const tmp = tempName(name);
      let fh: FileHandle | undefined;
      try {
        fh = await r.dir.open(tmp, O_CREATE_NEW, 0o600);
        if (this.owner) await fh.chown(this.owner.uid, this.owner.gid);
        await writeAll(fh, data, maxBytes, path);
        await fh.chmod(mode);
        if (opts.mtimeMs !== undefined && Number.isFinite(opts.mtimeMs) && opts.mtimeMs > 0)
          await fh.utimes(opts.mtimeMs / 1000, opts.mtimeMs / 1000);
        const st = await fh.stat();
        await fh.close();
        fh = undefined;
        await renameAt(r.dir, tmp, r.dir, name);
        return toEntryInfo(name, path, st);
      } catch (err) {
        await fh?.close().catch(() => undefined);
        await r.dir.unlink(tmp).catch(() => undefined);
        throw mapWriteError(err, path);
      }
    });
  }

  /**
   * A Writable for {@link writeFile}: end it to commit (`done` then resolves with the entry),
   * destroy it to abort (the target stays as it was). Back-pressure flows to the writer.
   */
  createWriteStream(path: string, opts: WriteOptions = {}): { stream: Writable; done: Promise<EntryInfo> } {
    const stream = new PassThrough({ highWaterMark: READ_CHUNK_BYTES });
    // An error (destroy by the writer, or a failed write) is reported through `done`.
    stream.on('error', () => undefined);
    const done = this.writeFile(path, stream, opts);
    done.catch((err: unknown) => stream.destroy(err as Error));
    return { stream, done };
  }

  // ------------------------------------------------------------------ directories, links

  /** mkdir (`-p` unless `parents: false`); an existing directory is `{created: false}`. */
  async mkdir(
    path: string,
    opts: { parents?: boolean; mode?: number } = {},
  ): Promise<{ entry: EntryInfo; created: boolean }> {
    const mode = opts.mode ?? this.dirMode;
    const createParents = opts.parents === false ? undefined : { mode: this.dirMode, owner: this.owner };
    return this.withResolved(path, { followFinal: false, createParents }, async (r) => {
      if (r.name === undefined) return { entry: toEntryInfo('', '', await r.dir.stat()), created: false };
      const created = await makeDir(r.dir, r.name, { mode, owner: this.owner });
      const st = await r.dir.lstat(r.name).catch((err: unknown) => {
        throw isRaceError(err)
          ? fsError(WorkspaceFsErrorCodes.notFound, path, `"${path}" vanished`, err)
          : err;
      });
      if (!st.isDirectory())
        throw fsError(WorkspaceFsErrorCodes.exists, path, `"${path}" exists and is not a directory`);
      return { entry: await this.entryAt(r.dir, r.name, path, st), created };
    });
  }

  /**
   * Renames `from` to `to` (the entries themselves: a symlink is moved, not what it points to).
   * `target` is another WorkspaceFs on the same filesystem (workspace ↔ tmp). Replaces a file or
   * an empty directory at `to` as rename(2) does. Parents of `to` are created unless `parents: false`.
   */
  async rename(
    from: string,
    to: string,
    opts: { target?: WorkspaceFs; parents?: boolean } = {},
  ): Promise<EntryInfo> {
    const dest = opts.target ?? this;
    if (from === '' || to === '')
      throw fsError(
        WorkspaceFsErrorCodes.invalidOperation,
        from || to,
        'the root cannot be renamed or replaced',
      );
    return this.withResolved(from, { followFinal: false }, async (src) => {
      const createParents = opts.parents === false ? undefined : { mode: dest.dirMode, owner: dest.owner };
      return dest.withResolved(to, { followFinal: false, createParents }, async (dst) => {
        try {
          await renameAt(src.dir, src.name as string, dst.dir, dst.name as string);
        } catch (err) {
          const code = errnoCode(err);
          if (code === 'ENOENT')
            throw fsError(WorkspaceFsErrorCodes.notFound, from, `"${from}" does not exist`, err);
          if (code === 'ENOTEMPTY' || code === 'EEXIST')
            throw fsError(
              WorkspaceFsErrorCodes.notEmpty,
              to,
              `"${to}" is a directory that is not empty`,
              err,
            );
          if (code === 'EISDIR')
            throw fsError(WorkspaceFsErrorCodes.isDirectory, to, `"${to}" is a directory`, err);
          if (code === 'ENOTDIR')
            throw fsError(WorkspaceFsErrorCodes.notDirectory, to, `"${to}" is not a directory`, err);
          if (code === 'EINVAL')
            throw fsError(
              WorkspaceFsErrorCodes.invalidOperation,
              to,
              `cannot move "${from}" into itself`,
              err,
            );
          if (code === 'EXDEV')
            throw fsError(
              WorkspaceFsErrorCodes.invalidOperation,
              to,
              `"${to}" is on another filesystem`,
              err,
            );
          throw mapWriteError(err, to);
        }
        return dest.entryAt(dst.dir, dst.name as string, to).catch((err: unknown) => {
          throw isRaceError(err) ? fsError(WorkspaceFsErrorCodes.notFound, to, `"${to}" vanished`, err) : err;
        });
      });
    });
  }

  /**
   * Removes `path` (recursively unless `recursive: false`), never following a symlink: a link is
   * unlinked, not what it points to. `not_found` when nothing is there.
   */
  async remove(path: string, opts: { recursive?: boolean } = {}): Promise<void> {
    if (path === '')
      throw fsError(WorkspaceFsErrorCodes.invalidOperation, path, 'the root cannot be removed');
    await this.withResolved(path, { followFinal: false }, async (r) => {
      const name = r.name as string;
      if (opts.recursive === false) {
        const st = await r.dir.lstat(name).catch((err: unknown) => {
          throw isRaceError(err)
            ? fsError(WorkspaceFsErrorCodes.notFound, path, `"${path}" does not exist`, err)
            : err;
        });
        try {
          if (st.isDirectory()) await r.dir.rmdir(name);
          else await r.dir.unlink(name);
        } catch (err) {
          if (errnoCode(err) === 'ENOTEMPTY')
            throw fsError(WorkspaceFsErrorCodes.notEmpty, path, `"${path}" is not empty`, err);
          if (errnoCode(err) === 'ENOENT')
            throw fsError(WorkspaceFsErrorCodes.notFound, path, `"${path}" does not exist`, err);
          throw err;
        }
        return;
      }
      if (!(await removeEntry(r.dir, name)))
        throw fsError(WorkspaceFsErrorCodes.notFound, path, `"${path}" does not exist`);
    });
  }

  /** The target stored in the symlink `path`. */
  async readlink(path: string): Promise<string> {
    return this.withResolved(path, { followFinal: false }, async (r) => {
      try {
        return await r.dir.readlink(r.name as string);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT')
          throw fsError(WorkspaceFsErrorCodes.notFound, path, `"${path}" does not exist`, err);
        if (errnoCode(err) === 'EINVAL')
          throw fsError(WorkspaceFsErrorCodes.notFile, path, `"${path}" is not a symlink`, err);
        throw err;
      }
    });
  }

  /** Creates the symlink `path` → `target` (stored as given; owned by `owner`). */
  async symlink(target: string, path: string, opts: { parents?: boolean } = {}): Promise<EntryInfo> {
    if (!target || target.includes('\0'))
      throw fsError(WorkspaceFsErrorCodes.invalidPath, path, 'symlink target is empty or contains NUL');
    const createParents = opts.parents === false ? undefined : { mode: this.dirMode, owner: this.owner };
    return this.withResolved(path, { followFinal: false, createParents }, async (r) => {
      const name = r.name as string;
      try {
        await r.dir.symlink(target, name);
      } catch (err) {
        if (errnoCode(err) === 'EEXIST')
          throw fsError(WorkspaceFsErrorCodes.exists, path, `"${path}" exists`, err);
        throw mapWriteError(err, path);
      }
      if (this.owner) await r.dir.lchown(name, this.owner).catch(() => undefined);
      return this.entryAt(r.dir, name, path);
    });
  }
}

function checkPath(path: string): void {
  if (path !== '' && !isCanonicalPath(path))
    throw fsError(WorkspaceFsErrorCodes.invalidPath, path, `"${path}" is not a canonical relative path`);
}

async function writeAll(fh: FileHandle, data: WriteSource, maxBytes: number, path: string): Promise<number> {
  let pos = 0;
  const put = async (chunk: Uint8Array): Promise<void> => {
    if (pos + chunk.byteLength > maxBytes)
      throw fsError(WorkspaceFsErrorCodes.tooLarge, path, `"${path}" would be larger than ${maxBytes} bytes`);
    let off = 0;
    while (off < chunk.byteLength) {
      const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off, pos + off);
      off += bytesWritten;
    }
    pos += chunk.byteLength;
  };
  if (data instanceof Uint8Array) {
    await put(data);
  } else if (Symbol.asyncIterator in data) {
    for await (const c of data as AsyncIterable<Uint8Array>)
      await put(typeof c === 'string' ? Buffer.from(c) : c);
  } else {
    for (const c of data as Iterable<Uint8Array>) await put(c);
  }
  return pos;
}

function readHandle(fh: FileHandle, entry: EntryInfo, maxBytes: number, path: string): ReadHandle {
  let closed = false;
  return {
    entry,
    size: entry.size,
    chunks: (chunkBytes?: number) => readChunks(fh, maxBytes, path, chunkBytes),
    readAll: () => readAll(fh, entry.size, maxBytes, path),
    async close() {
      if (closed) return;
      closed = true;
      await fh.close().catch(() => undefined);
    },
  };
}
