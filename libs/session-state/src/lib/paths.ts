import { WorkspaceEntryError, WorkspaceEscapeError } from './errors';
import type { WorkspaceEntry } from './model';

/** Maximum symlink hops followed when checking where a link points. */
const MAX_LINK_HOPS = 40;

/**
 * Checks that `path` is a canonical relative POSIX path inside the workspace: not empty,
 * not absolute, no `.`/`..`/empty segments, no NUL. Non-canonical paths are refused rather
 * than normalised, so two spellings of one path can never coexist in a state.
 */
export function assertSafePath(path: unknown): asserts path is string {
  if (typeof path !== 'string' || path.length === 0)
    throw new WorkspaceEscapeError(String(path), 'path is empty');
  if (path.includes('\0')) throw new WorkspaceEscapeError(path, 'path contains a NUL byte');
  if (path.startsWith('/')) throw new WorkspaceEscapeError(path, 'absolute paths are not allowed');
  for (const seg of path.split('/')) {
    if (seg === '..') throw new WorkspaceEscapeError(path, "'..' segments are not allowed");
    if (seg === '' || seg === '.')
      throw new WorkspaceEscapeError(path, 'path is not canonical (empty or "." segment)');
  }
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/**
 * Resolves a symlink at `linkPath` with `target` against the entry table, following links
 * of the table (physically, as the kernel would: `a/link/..` is the parent of the link's
 * target, not `a`). Returns the resolved path components; throws when it leaves the root.
 */
export function resolveLink(
  linkPath: string,
  target: string,
  entries: ReadonlyMap<string, Pick<WorkspaceEntry, 'type' | 'target'>>,
  hops = 0,
): string[] {
  if (hops > MAX_LINK_HOPS) throw new WorkspaceEscapeError(linkPath, 'too many levels of symbolic links');
  if (!target || target.includes('\0'))
    throw new WorkspaceEscapeError(linkPath, 'symlink target is empty or has a NUL byte');
  if (target.startsWith('/'))
    throw new WorkspaceEscapeError(linkPath, `symlink target "${target}" is absolute`);
  const parent = parentOf(linkPath);
  let stack = parent ? parent.split('/') : [];
  for (const seg of target.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (stack.length === 0)
        throw new WorkspaceEscapeError(linkPath, `symlink target "${target}" points outside the workspace`);
      stack.pop();
      continue;
    }
    stack.push(seg);
    const here = stack.join('/');
    const e = entries.get(here);
    if (e?.type === 'symlink' && e.target !== undefined) {
      try {
        stack = resolveLink(here, e.target, entries, hops + 1);
      } catch (err) {
        if (err instanceof WorkspaceEscapeError) {
          throw new WorkspaceEscapeError(
            linkPath,
            `symlink target "${target}" points outside the workspace (through "${here}")`,
          );
        }
        throw err;
      }
    }
  }
  return stack;
}

/**
 * Validates a whole entry list before anything touches the disk: safe paths, no duplicates,
 * every ancestor of an entry is a directory (a path going THROUGH a symlink is refused),
 * symlink targets resolve inside the root, sane modes.
 * @returns the entries by path.
 */
export function validateEntries(files: readonly WorkspaceEntry[]): Map<string, WorkspaceEntry> {
  const map = new Map<string, WorkspaceEntry>();
  for (const e of files) {
    assertSafePath(e.path);
    if (e.type !== 'file' && e.type !== 'dir' && e.type !== 'symlink') {
      throw new WorkspaceEntryError(e.path, `unknown type "${String(e.type)}"`);
    }
    if (!Number.isInteger(e.mode) || e.mode < 0 || e.mode > 0o7777)
      throw new WorkspaceEntryError(e.path, `invalid mode ${e.mode}`);
    if (map.has(e.path)) throw new WorkspaceEntryError(e.path, 'listed twice');
    map.set(e.path, e);
  }
  for (const e of files) {
    for (let p = parentOf(e.path); p; p = parentOf(p)) {
      const anc = map.get(p);
      if (!anc) continue;
      if (anc.type === 'symlink')
        throw new WorkspaceEscapeError(e.path, `path goes through the symlink "${p}"`);
      if (anc.type !== 'dir') throw new WorkspaceEntryError(e.path, `its parent "${p}" is a ${anc.type}`);
    }
    if (e.type === 'symlink') {
      if (typeof e.target !== 'string') throw new WorkspaceEntryError(e.path, 'symlink without target');
      resolveLink(e.path, e.target, map);
    }
  }
  return map;
}
