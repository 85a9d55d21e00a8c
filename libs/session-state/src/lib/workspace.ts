import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Stats } from 'node:fs';
import {
  DirChain,
  DirHandle,
  WorkspaceFsError,
  eachLimit,
  errnoCode,
  isRaceError,
  readConsistent,
  removeEntry,
  replaceFileAt,
  replaceSymlinkAt,
  walkTree,
  type Owner,
  type TreeEntry,
} from '@executor/workspace-fs';
import {
  StateIntegrityError,
  WorkspaceEntryError,
  WorkspaceEscapeError,
  WorkspaceLimitError,
  WorkspaceLimitReasons,
} from './errors';
import { hashContent } from './hash';
import type { WorkspaceEntry } from './model';
import { resolveLink, validateEntries } from './paths';

/**
 * A file modified less than this before it was captured is marked `racy`: a later write in
 * the same timestamp tick with the same size would be invisible to size+mtime, so the next
 * diff re-reads it instead of trusting its stat (the "racily clean" rule of git's index).
 */
export const RACY_WINDOW_MS = 2000;
const IO_CONCURRENCY = 32;

export interface WorkspaceLimits {
  /** Maximum number of entries (files, dirs, symlinks); unlimited by default. */
  maxFiles?: number;
  /** Maximum total bytes of file contents; unlimited by default. */
  maxBytes?: number;
}

export interface CaptureOptions extends WorkspaceLimits {
  /** Leaves out an entry (and, for a dir, everything under it). `path` is relative. */
  exclude?: (path: string, type: WorkspaceEntry['type']) => boolean;
  /**
   * Told about entries that are left out: special files, symlinks pointing outside, files over
   * `maxFileBytes`, files that kept changing while read (and had no previous version).
   */
  onSkip?: (path: string, reason: string) => void;
  /** Re-read and re-hash every file, ignoring the stat fast path of {@link diffWorkspace}. */
  fullHash?: boolean;
  /** Largest single file captured; bigger ones are skipped (onSkip). Default unlimited. */
  maxFileBytes?: number;
  /**
   * Absolute symlink targets that name the workspace root (how session code sees it, e.g.
   * `/home/user`, and its host path): such links are kept, made relative. Default: `[dir]`.
   */
  linkAliases?: readonly string[];
}

export interface RestoreOptions extends WorkspaceLimits {
  /** Remove everything on disk that is not in the list (default false). */
  clean?: boolean;
  /** Check each file content against its `hash` before writing (default true). */
  verify?: boolean;
  /** Owner of everything written (the session's uid/gid); the executor's when absent. */
  owner?: Owner;
}

export interface WorkspaceDiff {
  /** The whole tree; `content` only on files whose hash is not in `prev`. */
  files: WorkspaceEntry[];
  /** Paths of `prev` that no longer exist. */
  removed: string[];
  /** Entries added or changed (content, mode, type or link target) since `prev`. */
  changedFiles: number;
  /** Bytes of content carried by `files`. */
  changedBytes: number;
}

function checkLimits(entries: number, bytes: number, limits: WorkspaceLimits): void {
  if (limits.maxFiles !== undefined && entries > limits.maxFiles) {
    throw new WorkspaceLimitError(
      WorkspaceLimitReasons.files,
      limits.maxFiles,
      `workspace has more than ${limits.maxFiles} entries (maxFiles)`,
    );
  }
  if (limits.maxBytes !== undefined && bytes > limits.maxBytes) {
    throw new WorkspaceLimitError(
      WorkspaceLimitReasons.bytes,
      limits.maxBytes,
      `workspace holds ${bytes} bytes, more than the ${limits.maxBytes} allowed (maxBytes)`,
    );
  }
}

/** The link's target made relative when absolute into the root (an alias); undefined when it leaves. */
function linkTarget(raw: string, rel: string, aliases: readonly string[]): string | undefined {
  if (!raw.startsWith('/')) return raw;
  for (const a0 of aliases) {
    const a = a0.replace(/\/+$/, '');
    if (raw !== a && !raw.startsWith(`${a}/`)) continue;
    const inside = raw
      .slice(a.length)
      .split('/')
      .filter((s) => s !== '' && s !== '.');
    if (inside.includes('..')) return undefined; // not worth resolving: treated as leaving
    const depth = rel.split('/').length - 1;
    return [...Array.from({ length: depth }, () => '..'), ...inside].join('/') || '.';
  }
  return undefined;
}

/** Symlinks whose target resolves outside the root are not part of the workspace. */
function dropEscapingLinks(entries: WorkspaceEntry[], opts: CaptureOptions): WorkspaceEntry[] {
  const map = new Map<string, WorkspaceEntry>(entries.map((e) => [e.path, e]));
  return entries.filter((e) => {
    if (e.type !== 'symlink') return true;
    try {
      resolveLink(e.path, e.target as string, map);
      return true;
    } catch (err) {
      if (!(err instanceof WorkspaceEscapeError)) throw err;
      map.delete(e.path);
      opts.onSkip?.(e.path, 'symlink points outside the workspace');
      return false;
    }
  });
}

const byPath = (a: { path: string }, b: { path: string }): number =>
  a.path < b.path ? -1 : a.path > b.path ? 1 : 0;

/**
 * One pass over the live tree (no link ever followed, every entry reached through its parent's
 * descriptor), reading file contents as it goes. Tolerates a tree that changes under it:
 * - an entry that vanishes between readdir and lstat, or between lstat and open, is left out;
 * - a directory that vanishes or is swapped for a symlink while walked ends its branch;
 * - a file is read consistently ({@link readConsistent}: one descriptor, fstat before/after
 *   agree, hot files read twice); one that changes type is left out, one that keeps changing
 *   keeps its previous version from `prev` (or is left out if it has none);
 * - a symlink that is replaced by something else before readlink is left out.
 * With `prev`, files whose lstat matches their previous entry (size, mtime, mode, not racy) keep
 * its hash without being read.
 */
async function collect(
  dir: string,
  prev: ReadonlyMap<string, WorkspaceEntry> | undefined,
  opts: CaptureOptions,
): Promise<WorkspaceEntry[]> {
  const aliases = opts.linkAliases ?? [resolve(dir)];
  const maxFileBytes = opts.maxFileBytes ?? Number.MAX_SAFE_INTEGER;
  const out: WorkspaceEntry[] = [];
  let bytes = 0;
  const startedAt = Date.now();
  const add = (e: WorkspaceEntry): void => {
    out.push(e);
    bytes += e.size;
    checkLimits(out.length, bytes, opts);
  };
  const base = (e: TreeEntry, st: Stats, type: WorkspaceEntry['type']): WorkspaceEntry => ({
    path: e.path,
    type,
    mode: st.mode & 0o7777,
    size: type === 'file' ? st.size : 0,
    mtimeMs: st.mtimeMs,
  });
  const visit = async (e: TreeEntry): Promise<boolean> => {
    if (e.type === 'other') {
      opts.onSkip?.(e.path, 'not a regular file, directory or symlink');
      return false;
    }
    if (opts.exclude?.(e.path, e.type)) return false;
    if (e.type === 'dir') {
      add(base(e, e.stat, 'dir'));
      return true;
    }
    if (e.type === 'symlink') {
      let raw: string;
      try {
        raw = await e.dir.readlink(e.name);
      } catch (err) {
        if (isRaceError(err)) return false; // gone, or no longer a link
        throw err;
      }
      const target = linkTarget(raw, e.path, aliases);
      if (target === undefined) {
        opts.onSkip?.(e.path, 'symlink points outside the workspace');
        return false;
      }
      add({ ...base(e, e.stat, 'symlink'), target });
      return false;
    }
    // a regular file
    if (e.stat.size > maxFileBytes) {
      opts.onSkip?.(e.path, `file is larger than ${maxFileBytes} bytes`);
      return false;
    }
    const p = prev?.get(e.path);
    if (
      p &&
      !opts.fullHash &&
      p.type === 'file' &&
      p.hash &&
      !p.racy &&
      p.size === e.stat.size &&
      p.mtimeMs === e.stat.mtimeMs &&
      p.mode === (e.stat.mode & 0o7777)
    ) {
      add({ ...base(e, e.stat, 'file'), hash: p.hash });
      return false;
    }
    let r;
    try {
      r = await readConsistent(e.dir, e.name, e.path, { maxBytes: maxFileBytes });
    } catch (err) {
      if (err instanceof WorkspaceFsError && err.code === 'too_large') {
        opts.onSkip?.(e.path, `file is larger than ${maxFileBytes} bytes`);
        return false;
      }
      throw err;
    }
    if (r.status === 'gone') return false;
    if (r.status === 'not_regular') {
      opts.onSkip?.(e.path, 'changed type while it was captured');
      return false;
    }
    if (r.status === 'unstable') {
      if (p?.type === 'file' && p.hash) {
        // The previous consistent version stands in; the next capture tries again.
        const { content: _c, ...kept } = p;
        add({ ...kept, racy: true });
      } else {
        opts.onSkip?.(e.path, 'kept changing while it was captured');
      }
      return false;
    }
    const entry: WorkspaceEntry = {
      ...base(e, r.stat, 'file'),
      size: r.content.byteLength,
      hash: r.hash,
      content: r.content,
    };
    if (startedAt - r.stat.mtimeMs < RACY_WINDOW_MS) entry.racy = true;
    add(entry);
    return false;
  };
  const root = await DirHandle.openRoot(dir);
  try {
    await walkTree(root, { concurrency: IO_CONCURRENCY, visit });
  } finally {
    await root.close();
  }
  out.sort(byPath);
  return dropEscapingLinks(out, opts);
}

/**
 * Captures the whole workspace under `dir`, every file with its content and sha256. Never follows
 * a symlink; tolerates concurrent changes (see the persistence README: what a snapshot guarantees).
 */
export async function captureWorkspace(dir: string, opts: CaptureOptions = {}): Promise<WorkspaceEntry[]> {
  return collect(dir, undefined, opts);
}

/**
 * The workspace relative to `prev` (the entries of the last snapshot; content not needed).
 *
 * Stat-only fast path: a file whose size, mtimeMs and mode equal its `prev` entry, and that
 * was not `racy` then, keeps its previous hash without being read. Everything else is read
 * and hashed; its content is carried only when the hash is new relative to `prev`. Pass
 * `fullHash: true` to re-read every file (e.g. after restoring onto a filesystem whose
 * clock is not trusted).
 */
export async function diffWorkspace(
  prev: readonly WorkspaceEntry[],
  dir: string,
  opts: CaptureOptions = {},
): Promise<WorkspaceDiff> {
  const before = new Map(prev.map((e) => [e.path, e]));
  const knownHashes = new Set(prev.filter((e) => e.hash).map((e) => e.hash as string));
  const files = await collect(dir, before, opts);
  let changedFiles = 0;
  let changedBytes = 0;
  for (const e of files) {
    if (e.type === 'file' && e.content) {
      if (knownHashes.has(e.hash as string)) {
        delete e.content; // the store has it (or an earlier file of this diff carries it)
      } else {
        knownHashes.add(e.hash as string);
        changedBytes += e.content.byteLength;
      }
    }
    const p = before.get(e.path);
    if (!p || p.type !== e.type || p.mode !== e.mode || p.hash !== e.hash || p.target !== e.target)
      changedFiles++;
  }
  const present = new Set(files.map((e) => e.path));
  const removed = prev.filter((e) => !present.has(e.path)).map((e) => e.path);
  return { files, removed, changedFiles, changedBytes };
}

/** Entries without their content (what to keep as `prev` for the next diff). */
export function stripContent(files: readonly WorkspaceEntry[]): WorkspaceEntry[] {
  return files.map(({ content: _c, ...e }) => e);
}

const parentOf = (p: string): string => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
const nameOf = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/**
 * Writes `files` under `dir`: contents with their modes and mtimes, empty dirs, symlinks.
 * The whole list is validated first (nothing is written when one entry is hostile). Writes never
 * follow a symlink found on disk: every directory is opened `O_NOFOLLOW` relative to its parent
 * (a file or symlink where a directory belongs is removed, the link itself), files are new
 * `O_EXCL` siblings renamed over the entry, symlinks replace whatever is there. With `clean`,
 * whatever is not in the list is removed (never following links). Everything written gets
 * `owner` when given.
 */
export async function restoreWorkspace(
  dir: string,
  files: readonly WorkspaceEntry[],
  opts: RestoreOptions = {},
): Promise<{ files: number; bytes: number }> {
  const map = validateEntries(files);
  let bytes = 0;
  for (const f of files) {
    if (f.type !== 'file') continue;
    if (!f.content) throw new WorkspaceEntryError(f.path, 'file has no content to restore');
    if (opts.verify !== false && f.hash !== undefined && hashContent(f.content) !== f.hash) {
      throw new StateIntegrityError(`content of "${f.path}" does not match its hash`);
    }
    bytes += f.content.byteLength;
  }
  checkLimits(files.length, bytes, opts);
  await mkdir(resolve(dir), { recursive: true });
  const root = await DirHandle.openRoot(resolve(dir));
  try {
    if (opts.clean) await removeUnlisted(root, map);
    const sorted = [...files].sort(byPath);
    const chain = new DirChain(root, { mode: 0o700, owner: opts.owner, replace: true });
    try {
      // Directories first (sorted: parents before children), then each directory's files and links.
      for (const e of sorted) if (e.type === 'dir') await chain.cd(e.path);
      const byParent = new Map<string, WorkspaceEntry[]>();
      for (const e of sorted) {
        if (e.type === 'dir') continue;
        const p = parentOf(e.path);
        const list = byParent.get(p) ?? [];
        list.push(e);
        byParent.set(p, list);
      }
      for (const [parent, entries] of [...byParent].sort((a, b) =>
        a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
      )) {
        const d = await chain.cd(parent);
        await eachLimit(entries, IO_CONCURRENCY, async (e) => {
          if (e.type === 'file') {
            await replaceFileAt(d, nameOf(e.path), e.content as Uint8Array, {
              mode: e.mode,
              owner: opts.owner,
              mtimeMs: e.mtimeMs,
              replace: true,
            });
          } else {
            await replaceSymlinkAt(d, nameOf(e.path), e.target as string, opts.owner);
          }
        });
      }
      // Directory modes and mtimes last, deepest first (writing inside a dir moves its mtime).
      for (const e of [...sorted].reverse()) {
        if (e.type !== 'dir') continue;
        const d = await chain.cd(e.path);
        if (opts.owner) await d.fh.chown(opts.owner.uid, opts.owner.gid);
        await d.fh.chmod(e.mode);
        if (Number.isFinite(e.mtimeMs) && e.mtimeMs > 0)
          await d.fh.utimes(e.mtimeMs / 1000, e.mtimeMs / 1000);
      }
    } finally {
      await chain.close();
    }
  } finally {
    await root.close();
  }
  return { files: files.length, bytes };
}

/** Removes what is on disk but not listed (or listed with another type); never follows links. */
async function removeUnlisted(root: DirHandle, map: ReadonlyMap<string, WorkspaceEntry>): Promise<void> {
  const walk = async (d: DirHandle): Promise<void> => {
    for (const name of await d.names()) {
      const rel = d.path ? `${d.path}/${name}` : name;
      let st: Stats;
      try {
        st = await d.lstat(name);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') continue;
        throw err;
      }
      const want = map.get(rel);
      const type = st.isFile()
        ? 'file'
        : st.isDirectory()
          ? 'dir'
          : st.isSymbolicLink()
            ? 'symlink'
            : undefined;
      if (!want || want.type !== type) {
        await removeEntry(d, name);
      } else if (type === 'dir') {
        const child = await d.child(name, rel);
        try {
          await walk(child);
        } finally {
          await child.close();
        }
      }
    }
  };
  await walk(root);
}
