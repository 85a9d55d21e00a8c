import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { O_READ, type DirHandle } from './dir';
import { WorkspaceFsError, WorkspaceFsErrorCodes, errnoCode } from './errors';

/** Chunk size of streamed reads. */
export const READ_CHUNK_BYTES = 256 * 1024;

/**
 * A file modified less than this before it is read is "hot": a further write in the same clock
 * tick would leave size, mtime and ctime unchanged (the kernel stamps them with a coarse clock,
 * 1–10 ms), so stat cannot prove the bytes are one version and the file is read twice instead.
 * Older files need no second read: any write after the first fstat moves ctime past its old value.
 */
export const HOT_WINDOW_MS = 100;
/** Attempts at reading a changing file before giving up on it (`unstable`). */
export const STABLE_READ_ATTEMPTS = 4;

export interface OpenedFile {
  fh: FileHandle;
  stat: Stats;
}

/**
 * Opens `name` in `dir` for reading: `O_NOFOLLOW|O_NONBLOCK|O_NOCTTY` (a symlink is ELOOP, a FIFO
 * opens at once and is then refused, a socket is ENXIO), then `fstat` on the descriptor must say
 * regular file. Errors: `not_found`, `is_a_directory`, `not_a_file`; a symlink (ELOOP) is
 * rethrown as the errno so a caller that follows links can resolve it.
 */
export async function openRegular(dir: DirHandle, name: string, path: string): Promise<OpenedFile> {
  let fh: FileHandle;
  try {
    fh = await dir.open(name, O_READ);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new WorkspaceFsError(WorkspaceFsErrorCodes.notFound, path, `"${path}" does not exist`, {
        cause: err,
      });
    if (code === 'ENXIO' || code === 'EACCES' || code === 'EPERM')
      throw new WorkspaceFsError(WorkspaceFsErrorCodes.notFile, path, `"${path}" is not a regular file`, {
        cause: err,
      });
    throw err;
  }
  try {
    const stat = await fh.stat();
    if (stat.isFile()) return { fh, stat };
    throw new WorkspaceFsError(
      stat.isDirectory() ? WorkspaceFsErrorCodes.isDirectory : WorkspaceFsErrorCodes.notFile,
      path,
      stat.isDirectory() ? `"${path}" is a directory` : `"${path}" is not a regular file`,
    );
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}

function tooLarge(path: string, max: number): WorkspaceFsError {
  return new WorkspaceFsError(WorkspaceFsErrorCodes.tooLarge, path, `"${path}" is larger than ${max} bytes`);
}

/**
 * Reads the whole file from the descriptor (from offset 0, never more than `maxBytes`; a file that
 * grows past it while read is `too_large`). One buffer of the size fstat gave, grown if needed.
 */
export async function readAll(fh: FileHandle, size: number, maxBytes: number, path: string): Promise<Buffer> {
  if (size > maxBytes) throw tooLarge(path, maxBytes);
  let buf = Buffer.allocUnsafe(Math.min(size + 1, maxBytes + 1));
  let len = 0;
  for (;;) {
    if (len === buf.length) {
      if (len > maxBytes) throw tooLarge(path, maxBytes);
      const bigger = Buffer.allocUnsafe(Math.min(Math.max(buf.length * 2, 64 * 1024), maxBytes + 1));
      buf.copy(bigger, 0, 0, len);
      buf = bigger;
    }
    const { bytesRead } = await fh.read(buf, len, buf.length - len, len);
    if (bytesRead === 0) break;
    len += bytesRead;
  }
  if (len > maxBytes) throw tooLarge(path, maxBytes);
  return len === buf.length ? buf : buf.subarray(0, len);
}

/**
 * Reads `size` bytes from offset 0 (fewer if the file is shorter now). No extra read to find EOF:
 * a file that grew meanwhile is caught by the caller's second fstat (size changed).
 */
async function readExact(fh: FileHandle, size: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(size);
  let len = 0;
  while (len < size) {
    const { bytesRead } = await fh.read(buf, len, size - len, len);
    if (bytesRead === 0) break;
    len += bytesRead;
  }
  return len === size ? buf : buf.subarray(0, len);
}

/** Chunks of the file read through the descriptor, from offset 0 to EOF, at most `maxBytes`. */
export async function* readChunks(
  fh: FileHandle,
  maxBytes: number,
  path: string,
  chunkBytes = READ_CHUNK_BYTES,
): AsyncGenerator<Buffer> {
  let pos = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(chunkBytes);
    const { bytesRead } = await fh.read(buf, 0, chunkBytes, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    if (pos > maxBytes) throw tooLarge(path, maxBytes);
    yield bytesRead === chunkBytes ? buf : buf.subarray(0, bytesRead);
  }
}

async function hashFrom(
  fh: FileHandle,
  maxBytes: number,
  path: string,
): Promise<{ hash: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of readChunks(fh, maxBytes, path)) {
    h.update(c);
    size += c.length;
  }
  return { hash: h.digest('hex'), size };
}

function sameVersion(a: Stats, b: Stats): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/** Outcome of {@link readConsistent}. */
export type ConsistentRead =
  | { status: 'ok'; content: Buffer; stat: Stats; hash: string }
  /** Gone between listing and reading (ENOENT), or no longer a regular file (type changed). */
  | { status: 'gone' }
  | { status: 'not_regular'; stat?: Stats }
  /** Kept changing during every attempt. */
  | { status: 'unstable' };

/**
 * Reads one consistent version of a file that may be changing: one descriptor per attempt,
 * `fstat` before and after the read must agree (inode, size, mtime, ctime) and the bytes read must
 * equal the size; a hot file (ctime within {@link HOT_WINDOW_MS} of now) is read a second time and
 * both reads must hash equal. Otherwise it is read again, up to {@link STABLE_READ_ATTEMPTS} times.
 * Never follows a symlink, never opens anything but a regular file for its content.
 */
export async function readConsistent(
  dir: DirHandle,
  name: string,
  path: string,
  opts: { maxBytes: number; attempts?: number; hotWindowMs?: number },
): Promise<ConsistentRead> {
  const attempts = opts.attempts ?? STABLE_READ_ATTEMPTS;
  const hotMs = opts.hotWindowMs ?? HOT_WINDOW_MS;
  for (let i = 0; i < attempts; i++) {
    let opened: OpenedFile;
    try {
      opened = await openRegular(dir, name, path);
    } catch (err) {
      if (err instanceof WorkspaceFsError) {
        if (err.code === WorkspaceFsErrorCodes.notFound) return { status: 'gone' };
        if (err.code === WorkspaceFsErrorCodes.isDirectory || err.code === WorkspaceFsErrorCodes.notFile)
          return { status: 'not_regular' };
      }
      if (errnoCode(err) === 'ELOOP') return { status: 'not_regular' }; // became a symlink
      throw err;
    }
    const { fh, stat: before } = opened;
    try {
      if (before.size > opts.maxBytes) throw tooLarge(path, opts.maxBytes);
      const content = await readExact(fh, before.size);
      const after = await fh.stat();
      if (content.length !== before.size || !sameVersion(before, after)) continue;
      const hash = createHash('sha256').update(content).digest('hex');
      if (Date.now() - after.ctimeMs < hotMs) {
        const again = await hashFrom(fh, opts.maxBytes, path);
        const last = await fh.stat();
        if (again.hash !== hash || !sameVersion(after, last)) continue;
      }
      return { status: 'ok', content, stat: after, hash };
    } finally {
      await fh.close().catch(() => undefined);
    }
  }
  return { status: 'unstable' };
}
