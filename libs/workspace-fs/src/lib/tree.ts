import type { Stats } from 'node:fs';
import { joinPath } from './client-path';
import type { DirHandle } from './dir';
import { entryType, type EntryType } from './entry';
import { WorkspaceFsError, WorkspaceFsErrorCodes, errnoCode, isRaceError } from './errors';
import { MAX_DEPTH } from './resolve';

/** One entry met by {@link walkTree}: lstat of it, and the open directory that holds it. */
export interface TreeEntry {
  /** Path relative to the walk's start. */
  path: string;
  name: string;
  type: EntryType;
  /** lstat (never followed). */
  stat: Stats;
  /** The directory holding the entry, open while the visitor runs: read it with `dir.open(name)`. */
  dir: DirHandle;
  depth: number;
}

export interface WalkOptions {
  /** Levels below the start visited (1 = its entries only). Default {@link MAX_DEPTH}. */
  maxDepth?: number;
  /** Entries of one directory handled concurrently. Default 16. */
  concurrency?: number;
  /** Largest directory (entries) read; more → `too_large`. */
  maxDirEntries?: number;
  /**
   * Called for every entry (never for the start). Return `false` to not descend into a directory.
   * Entries that vanish between readdir and lstat are not reported (they are not there).
   */
  visit: (e: TreeEntry) => Promise<boolean | void> | boolean | void;
  /** A directory that could not be entered because it vanished or changed type while walked. */
  onVanished?: (path: string) => void;
  /** A directory deeper than `maxDepth` allows (not entered). */
  onTooDeep?: (path: string) => void;
}

/** Runs `fn` over `items` with at most `limit` in flight (stops at the first error). */
export async function eachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  });
  await Promise.all(runners);
}

/**
 * Depth-first walk under `start` that never follows a symlink: entries are lstat'ed relative to
 * the open directory fd, sub-directories opened `O_DIRECTORY|O_NOFOLLOW` relative to it (a
 * directory swapped for a symlink mid-walk is simply not entered). Tolerates a tree that changes
 * while walked: vanished entries are skipped, a directory that disappears ends its branch.
 * Holds one descriptor per level; the visitor may read an entry through `e.dir`.
 */
export async function walkTree(start: DirHandle, opts: WalkOptions): Promise<void> {
  const maxDepth = opts.maxDepth ?? MAX_DEPTH;
  const concurrency = opts.concurrency ?? 16;
  const walk = async (dir: DirHandle, rel: string, depth: number): Promise<void> => {
    let names: string[];
    try {
      names = await dir.names(opts.maxDirEntries);
    } catch (err) {
      if (isRaceError(err)) return opts.onVanished?.(rel);
      throw err;
    }
    const subdirs: string[] = [];
    await eachLimit(names, concurrency, async (name) => {
      const path = joinPath(rel, name);
      let stat: Stats;
      try {
        stat = await dir.lstat(name);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return;
        throw err;
      }
      const type = entryType(stat);
      const descend = await opts.visit({ path, name, type, stat, dir, depth });
      if (type === 'dir' && descend !== false) subdirs.push(name);
    });
    subdirs.sort();
    for (const name of subdirs) {
      const path = joinPath(rel, name);
      if (depth + 1 > maxDepth) {
        opts.onTooDeep?.(path);
        continue;
      }
      let child: DirHandle;
      try {
        child = await dir.child(name, joinPath(dir.path, name));
      } catch (err) {
        if (isRaceError(err)) {
          opts.onVanished?.(path);
          continue;
        }
        throw err;
      }
      try {
        await walk(child, path, depth + 1);
      } finally {
        await child.close();
      }
    }
  };
  await walk(start, '', 1);
}

/** Attempts at emptying a directory that session code keeps filling. */
const REMOVE_ATTEMPTS = 5;

/**
 * Removes `name` in `parent` and, for a directory, everything under it — never following a
 * symlink (a link is unlinked, its target untouched), every level opened relative to its parent's
 * descriptor. Tolerates concurrent changes (entries that vanish, a directory refilled while it is
 * emptied: retried a few times, then `not_empty`). Returns false when nothing was there.
 */
export async function removeEntry(parent: DirHandle, name: string, depth = 0): Promise<boolean> {
  const path = joinPath(parent.path, name);
  for (let attempt = 0; ; attempt++) {
    let st: Stats;
    try {
      st = await parent.lstat(name);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return attempt > 0;
      throw err;
    }
    try {
      if (!st.isDirectory()) {
        await parent.unlink(name);
        return true;
      }
      if (depth >= MAX_DEPTH)
        throw new WorkspaceFsError(
          WorkspaceFsErrorCodes.tooDeep,
          path,
          `"${path}" is more than ${MAX_DEPTH} levels deep`,
        );
      let child: DirHandle | undefined;
      try {
        child = await parent.child(name, path);
      } catch (err) {
        if (!isRaceError(err)) throw err;
      }
      if (child) {
        try {
          for (const n of await child.names()) await removeEntry(child, n, depth + 1);
        } finally {
          await child.close();
        }
      }
      await parent.rmdir(name);
      return true;
    } catch (err) {
      const code = errnoCode(err);
      // ENOENT: gone meanwhile; EISDIR/ENOTDIR: type changed; ENOTEMPTY: refilled meanwhile.
      const retriable = code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'ENOTEMPTY';
      if (!retriable) throw err;
      if (attempt + 1 >= REMOVE_ATTEMPTS) {
        if (code === 'ENOENT') return true;
        throw new WorkspaceFsError(
          code === 'ENOTEMPTY' ? WorkspaceFsErrorCodes.notEmpty : WorkspaceFsErrorCodes.unstable,
          path,
          `"${path}" kept changing while it was removed`,
          { cause: err },
        );
      }
    }
  }
}
