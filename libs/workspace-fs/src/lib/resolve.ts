import { DirHandle, type Owner } from './dir';
import { WorkspaceFsError, WorkspaceFsErrorCodes, errnoCode } from './errors';
import { isCanonicalPath } from './client-path';

/** Symlinks followed at most while resolving one path (the kernel's limit). */
export const MAX_SYMLINK_HOPS = 40;
/** Directories deep at most (each level holds one descriptor while it is walked). */
export const MAX_DEPTH = 512;

export interface ResolveOptions {
  /**
   * Absolute symlink targets that name the root: how session code sees it (`/home/user`) and,
   * without a mount namespace, its host path. A link to `<alias>/x` is followed to the root's `x`;
   * any other absolute target leaves the root (`escape`).
   */
  aliases?: readonly string[];
  /** Follow a symlink in the LAST component too (read, write, list). Default false (stat, remove, rename). */
  followFinal?: boolean;
  /** Create missing directories on the way (mode; owner when given). */
  createParents?: { mode: number; owner?: Owner };
}

/** Where a path leads: the directory holding its last entry, opened without following any link out. */
export interface Resolved {
  /** The directory that holds the entry (the root itself when `name` is undefined). */
  readonly dir: DirHandle;
  /** The entry's name in `dir`; undefined when the path is the root. */
  readonly name: string | undefined;
  /** Physical path of the entry relative to the root, after following symlinks (`''`: the root). */
  readonly path: string;
  /** Closes every directory opened while resolving (never the root handle passed in). */
  close(): Promise<void>;
}

function escape(path: string, why: string): never {
  throw new WorkspaceFsError(WorkspaceFsErrorCodes.escape, path, why);
}

/**
 * Walks `rel` (a canonical relative path, or `''`) from `root`, one component at a time, each
 * directory opened `O_DIRECTORY|O_NOFOLLOW` relative to the previous one. A symlink on the way is
 * followed only by reading it and walking its target the same way from the directory it is in
 * (`..` pops back to the directory the walk came from — physical resolution, as the kernel
 * does); a target that climbs above the root or is absolute outside the aliases is refused
 * (`escape`). Nothing is ever opened by a path string the session could redirect.
 */
export async function resolvePath(
  root: DirHandle,
  rel: string,
  opts: ResolveOptions = {},
): Promise<Resolved> {
  if (rel !== '' && !isCanonicalPath(rel))
    throw new WorkspaceFsError(
      WorkspaceFsErrorCodes.invalidPath,
      rel,
      `"${rel}" is not a canonical relative path`,
    );
  const stack: DirHandle[] = [root];
  const names: string[] = [];
  let pending: string[] = rel ? rel.split('/') : [];
  let hops = 0;
  const top = (): DirHandle => stack[stack.length - 1] as DirHandle;
  const closeAll = async (): Promise<void> => {
    while (stack.length > 1) await (stack.pop() as DirHandle).close();
  };
  const hop = (): void => {
    if (++hops > MAX_SYMLINK_HOPS)
      throw new WorkspaceFsError(
        WorkspaceFsErrorCodes.tooDeep,
        rel,
        `too many levels of symbolic links in "${rel}"`,
      );
  };
  /** Replaces the next component (a symlink in `top()`) by its target's components. */
  const expand = async (name: string, rest: string[]): Promise<void> => {
    hop();
    let target: string;
    try {
      target = await top().readlink(name);
    } catch (err) {
      // EINVAL: no longer a symlink; ENOENT: gone — walk the name again and see what it is now.
      if (errnoCode(err) === 'EINVAL' || errnoCode(err) === 'ENOENT') {
        pending = [name, ...rest];
        return;
      }
      throw err;
    }
    const shown = [...names, name].join('/');
    if (target === '') escape(rel, `symlink "${shown}" is empty`);
    let comps: string[];
    if (target.startsWith('/')) {
      const alias = (opts.aliases ?? []).find(
        (a) => target === a || target.startsWith(`${a.replace(/\/+$/, '')}/`),
      );
      if (alias === undefined) escape(rel, `symlink "${shown}" points outside the workspace ("${target}")`);
      await closeAll();
      names.length = 0;
      comps = target.slice(alias.replace(/\/+$/, '').length).split('/');
    } else {
      comps = target.split('/');
    }
    pending = [...comps.filter((c) => c !== '' && c !== '.'), ...rest];
  };

  try {
    for (;;) {
      if (pending.length === 0) {
        // The path ends on a directory that is on the stack (the root, or reached via `..`/a link).
        if (stack.length === 1) return resolved(root, undefined, '', closeAll);
        const dirHandle = stack.pop() as DirHandle;
        await dirHandle.close();
        const name = names.pop() as string;
        return resolved(top(), name, [...names, name].join('/'), closeAll);
      }
      const c = pending.shift() as string;
      if (c === '..') {
        if (stack.length === 1) escape(rel, `"${rel}" leads above the workspace root`);
        await (stack.pop() as DirHandle).close();
        names.pop();
        continue;
      }
      if (pending.length === 0) {
        if (!opts.followFinal) return resolved(top(), c, [...names, c].join('/'), closeAll);
        let isLink = false;
        try {
          isLink = (await top().lstat(c)).isSymbolicLink();
        } catch (err) {
          if (errnoCode(err) !== 'ENOENT') throw err;
        }
        if (!isLink) return resolved(top(), c, [...names, c].join('/'), closeAll);
        await expand(c, []);
        continue;
      }
      if (stack.length > MAX_DEPTH)
        throw new WorkspaceFsError(
          WorkspaceFsErrorCodes.tooDeep,
          rel,
          `"${rel}" is more than ${MAX_DEPTH} levels deep`,
        );
      try {
        stack.push(await top().child(c, [...names, c].join('/')));
        names.push(c);
        continue;
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT') {
          if (!opts.createParents) {
            throw new WorkspaceFsError(
              WorkspaceFsErrorCodes.notFound,
              rel,
              `"${[...names, c].join('/')}" does not exist`,
              {
                cause: err,
              },
            );
          }
          hop(); // bounds a create/replace race loop
          await makeDir(top(), c, opts.createParents);
          pending.unshift(c);
          continue;
        }
        if (code !== 'ENOTDIR' && code !== 'ELOOP') throw err;
      }
      // Not a directory: a symlink to follow, or a file (or it changed again under us).
      let st;
      try {
        st = await top().lstat(c);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
        hop();
        pending.unshift(c);
        continue;
      }
      if (st.isSymbolicLink()) {
        await expand(c, pending);
        continue;
      }
      if (st.isDirectory()) {
        hop(); // replaced by a directory between the open and the lstat: try again
        pending.unshift(c);
        continue;
      }
      throw new WorkspaceFsError(
        WorkspaceFsErrorCodes.notDirectory,
        rel,
        `"${[...names, c].join('/')}" is not a directory`,
      );
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
}

function resolved(
  dir: DirHandle,
  name: string | undefined,
  path: string,
  close: () => Promise<void>,
): Resolved {
  return { dir, name, path, close };
}

/** mkdirat + owner + exact mode (not subject to the umask); EEXIST is fine (someone made it). */
export async function makeDir(
  parent: DirHandle,
  name: string,
  how: { mode: number; owner?: Owner },
): Promise<boolean> {
  try {
    await parent.mkdir(name, how.mode);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw err;
  }
  let child: DirHandle | undefined;
  try {
    child = await parent.child(name, name);
    if (how.owner) await child.fh.chown(how.owner.uid, how.owner.gid);
    await child.fh.chmod(how.mode);
  } catch (err) {
    // Replaced right after we made it (by session code): whatever is there now is theirs.
    if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw err;
  } finally {
    await child?.close();
  }
  return true;
}
