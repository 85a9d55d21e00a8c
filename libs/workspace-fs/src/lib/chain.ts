import { randomBytes } from 'node:crypto';
import { O_CREATE_NEW, renameAt, type DirHandle, type Owner } from './dir';
import { WorkspaceFsError, WorkspaceFsErrorCodes, errnoCode } from './errors';
import { isCanonicalPath } from './client-path';
import { makeDir, MAX_DEPTH } from './resolve';
import { removeEntry } from './tree';

/**
 * Strict directory walking for writers that must not follow ANY symlink (restore): each
 * component is opened `O_DIRECTORY|O_NOFOLLOW` relative to its parent; a missing one is created
 * (owner, mode); with `replace`, whatever non-directory sits where a directory must be (a stale
 * file, a symlink) is removed — the link itself, never what it points to — and a directory made.
 * The chain of open directories is kept between calls so that entries in sorted order reuse the
 * common prefix (one open per new directory, not one per entry and level).
 */
export class DirChain {
  private readonly stack: Array<{ name: string; dir: DirHandle }> = [];

  constructor(
    private readonly root: DirHandle,
    private readonly how: { mode: number; owner?: Owner; replace?: boolean },
  ) {}

  /** The open directory `rel` (`''` = the root), created on the way as needed. */
  async cd(rel: string): Promise<DirHandle> {
    if (rel !== '' && !isCanonicalPath(rel))
      throw new WorkspaceFsError(
        WorkspaceFsErrorCodes.invalidPath,
        rel,
        `"${rel}" is not a canonical relative path`,
      );
    const parts = rel ? rel.split('/') : [];
    if (parts.length > MAX_DEPTH)
      throw new WorkspaceFsError(
        WorkspaceFsErrorCodes.tooDeep,
        rel,
        `"${rel}" is more than ${MAX_DEPTH} levels deep`,
      );
    let common = 0;
    while (common < parts.length && common < this.stack.length && this.stack[common]?.name === parts[common])
      common++;
    while (this.stack.length > common) await (this.stack.pop() as { dir: DirHandle }).dir.close();
    for (let i = common; i < parts.length; i++) {
      const parent = this.top();
      const name = parts[i] as string;
      this.stack.push({ name, dir: await this.enter(parent, name, parts.slice(0, i + 1).join('/')) });
    }
    return this.top();
  }

  private top(): DirHandle {
    return this.stack.length ? (this.stack[this.stack.length - 1] as { dir: DirHandle }).dir : this.root;
  }

  private async enter(parent: DirHandle, name: string, path: string): Promise<DirHandle> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        return await parent.child(name, path);
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT') {
          await makeDir(parent, name, this.how);
          continue;
        }
        if (code !== 'ENOTDIR' && code !== 'ELOOP') throw err;
        if (!this.how.replace)
          throw new WorkspaceFsError(
            WorkspaceFsErrorCodes.notDirectory,
            path,
            `"${path}" is not a directory`,
            {
              cause: err,
            },
          );
        await removeEntry(parent, name);
      }
    }
    throw new WorkspaceFsError(WorkspaceFsErrorCodes.unstable, path, `"${path}" keeps changing`);
  }

  async close(): Promise<void> {
    while (this.stack.length) await (this.stack.pop() as { dir: DirHandle }).dir.close();
  }
}

/** `.<name>.wsfs-<random>` — a sibling name for the temporary file of a write (≤ 255 bytes). */
export function tempName(name: string): string {
  const suffix = `.wsfs-${randomBytes(6).toString('hex')}`;
  let base = `.${name}`;
  while (Buffer.byteLength(base) + suffix.length > 255) base = base.slice(0, -1);
  return base + suffix;
}

/**
 * Puts a file at `name` in `dir` without ever opening what is there: the bytes go to a new
 * `O_EXCL` sibling (owner, mode, mtime set through its descriptor), which is then renamed over
 * the entry (a directory in the way is removed first when `replace`). Returns the bytes written.
 */
export async function replaceFileAt(
  dir: DirHandle,
  name: string,
  content: Uint8Array,
  how: { mode: number; owner?: Owner; mtimeMs?: number; replace?: boolean },
): Promise<void> {
  const tmp = tempName(name);
  const fh = await dir.open(tmp, O_CREATE_NEW, 0o600);
  try {
    try {
      if (how.owner) await fh.chown(how.owner.uid, how.owner.gid);
      let off = 0;
      while (off < content.byteLength)
        off += (await fh.write(content, off, content.byteLength - off, off)).bytesWritten;
      await fh.chmod(how.mode);
      if (how.mtimeMs !== undefined && Number.isFinite(how.mtimeMs) && how.mtimeMs > 0)
        await fh.utimes(how.mtimeMs / 1000, how.mtimeMs / 1000);
    } finally {
      await fh.close();
    }
    try {
      await renameAt(dir, tmp, dir, name);
    } catch (err) {
      if (
        !how.replace ||
        (errnoCode(err) !== 'EISDIR' && errnoCode(err) !== 'ENOTEMPTY' && errnoCode(err) !== 'EEXIST')
      )
        throw err;
      await removeEntry(dir, name);
      await renameAt(dir, tmp, dir, name);
    }
  } catch (err) {
    await dir.unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Puts a symlink at `name` (whatever is there is removed first, never followed). */
export async function replaceSymlinkAt(
  dir: DirHandle,
  name: string,
  target: string,
  owner?: Owner,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    await removeEntry(dir, name);
    try {
      await dir.symlink(target, name);
      break;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST' || attempt >= 4) throw err;
    }
  }
  if (owner) await dir.lchown(name, owner);
}
