import { constants as fsc, type Stats } from 'node:fs';
import {
  chmod,
  lstat,
  mkdir,
  open,
  readFile,
  readdir,
  readlink,
  rm,
  symlink,
  utimes,
} from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
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
  /** Told about entries that are skipped: special files, symlinks pointing outside. */
  onSkip?: (path: string, reason: string) => void;
  /** Re-read and re-hash every file, ignoring the stat fast path of {@link diffWorkspace}. */
  fullHash?: boolean;
}

export interface RestoreOptions extends WorkspaceLimits {
  /** Remove everything on disk that is not in the list (default false). */
  clean?: boolean;
  /** Check each file content against its `hash` before writing (default true). */
  verify?: boolean;
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

interface Scanned extends Omit<WorkspaceEntry, 'content'> {
  abs: string;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function eachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(runners);
}

function typeOf(st: Stats): WorkspaceEntry['type'] | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return undefined;
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

/** Walks the tree with lstat only (no content), checking limits as it goes. */
async function scan(dir: string, opts: CaptureOptions): Promise<Scanned[]> {
  const root = resolve(dir);
  const out: Scanned[] = [];
  let bytes = 0;
  const startedAt = Date.now();
  const walk = async (absDir: string, relDir: string): Promise<void> => {
    const names = await readdir(absDir);
    const subdirs: Array<[string, string]> = [];
    await eachLimit(names, IO_CONCURRENCY, async (name) => {
      const abs = join(absDir, name);
      const rel = relDir ? `${relDir}/${name}` : name;
      const st = await lstat(abs);
      const type = typeOf(st);
      if (!type) return opts.onSkip?.(rel, 'not a regular file, directory or symlink');
      if (opts.exclude?.(rel, type)) return;
      const e: Scanned = {
        abs,
        path: rel,
        type,
        mode: st.mode & 0o7777,
        size: type === 'file' ? st.size : 0,
        mtimeMs: st.mtimeMs,
      };
      if (type === 'file' && startedAt - st.mtimeMs < RACY_WINDOW_MS) e.racy = true;
      if (type === 'symlink') {
        const target = await linkTarget(root, abs, rel);
        if (target === undefined) return opts.onSkip?.(rel, 'symlink points outside the workspace');
        e.target = target;
      }
      if (type === 'dir') subdirs.push([abs, rel]);
      bytes += e.size;
      out.push(e);
      checkLimits(out.length, bytes, opts);
    });
    for (const [abs, rel] of subdirs) await walk(abs, rel);
  };
  await walk(root, '');
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return dropEscapingLinks(out, opts);
}

/** The link's target made relative; undefined when it is absolute and outside the root. */
async function linkTarget(root: string, abs: string, rel: string): Promise<string | undefined> {
  const raw = await readlink(abs);
  if (!isAbsolute(raw)) return raw;
  const inside = relative(root, raw);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside))
    return inside === '' ? relativeFromLink(rel, '') : undefined;
  return relativeFromLink(rel, inside.split(sep).join('/'));
}

function relativeFromLink(linkRel: string, targetRel: string): string {
  const depth = linkRel.split('/').length - 1;
  const up = Array.from({ length: depth }, () => '..');
  return [...up, ...(targetRel ? [targetRel] : [])].join('/') || '.';
}

/** Symlinks whose target resolves outside the root are not part of the workspace. */
function dropEscapingLinks(entries: Scanned[], opts: CaptureOptions): Scanned[] {
  const map = new Map<string, Scanned>(entries.map((e) => [e.path, e]));
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

function toEntry(s: Scanned): WorkspaceEntry {
  const { abs: _abs, ...e } = s;
  return e;
}

/** Captures the whole workspace under `dir`, every file with its content and sha256. */
export async function captureWorkspace(dir: string, opts: CaptureOptions = {}): Promise<WorkspaceEntry[]> {
  const scanned = await scan(dir, opts);
  const out = scanned.map(toEntry);
  await eachLimit(
    scanned.map((s, i) => [s, i] as const).filter(([s]) => s.type === 'file'),
    IO_CONCURRENCY,
    async ([s, i]) => {
      const content = await readFile(s.abs);
      const e = out[i] as WorkspaceEntry;
      e.content = content;
      e.size = content.byteLength;
      e.hash = hashContent(content);
    },
  );
  return out;
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
  const scanned = await scan(dir, opts);
  const files = scanned.map(toEntry);
  let changedFiles = 0;
  let changedBytes = 0;
  await eachLimit(
    scanned.map((s, i) => [s, i] as const),
    IO_CONCURRENCY,
    async ([s, i]) => {
      const e = files[i] as WorkspaceEntry;
      const p = before.get(s.path);
      if (s.type === 'file') {
        if (
          !opts.fullHash &&
          p &&
          p.type === 'file' &&
          p.hash &&
          !p.racy &&
          p.size === s.size &&
          p.mtimeMs === s.mtimeMs &&
          p.mode === s.mode
        ) {
          e.hash = p.hash;
          return;
        }
        const content = await readFile(s.abs);
        e.size = content.byteLength;
        e.hash = hashContent(content);
        if (!knownHashes.has(e.hash)) {
          knownHashes.add(e.hash); // two new files with one content: carry it once
          e.content = content;
          changedBytes += content.byteLength;
        }
      }
    },
  );
  for (const e of files) {
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

/**
 * Writes `files` under `dir`: contents with their modes and mtimes, empty dirs, symlinks.
 * The whole list is validated first (nothing is written when one entry is hostile), and
 * writes never follow a symlink found on disk. With `clean`, whatever is not in the list
 * is removed.
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
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  if (opts.clean) await removeUnlisted(root, '', map);
  const dirs = new Set<string>(['']);
  const ensureDir = async (rel: string): Promise<void> => {
    if (dirs.has(rel)) return;
    const i = rel.lastIndexOf('/');
    await ensureDir(i < 0 ? '' : rel.slice(0, i));
    const abs = join(root, rel);
    const st = await lstat(abs).catch(() => undefined);
    if (st && !st.isDirectory()) await rm(abs, { recursive: true, force: true }); // a stale file or symlink: never follow it
    if (!st || !st.isDirectory()) await mkdir(abs, { mode: 0o700 });
    dirs.add(rel);
  };
  const parent = (p: string): string => (p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '');
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : 1));
  for (const e of sorted) if (e.type === 'dir') await ensureDir(e.path);
  for (const e of sorted) if (e.type !== 'dir') await ensureDir(parent(e.path));
  await eachLimit(
    sorted.filter((e) => e.type === 'file'),
    IO_CONCURRENCY,
    (e) => writeEntryFile(join(root, e.path), e),
  );
  for (const e of sorted) {
    if (e.type !== 'symlink') continue;
    const abs = join(root, e.path);
    await rm(abs, { recursive: true, force: true });
    await symlink(e.target as string, abs);
  }
  for (const e of sorted.reverse()) {
    if (e.type !== 'dir') continue;
    const abs = join(root, e.path);
    await chmod(abs, e.mode);
    await setTimes(abs, e.mtimeMs);
  }
  return { files: files.length, bytes };
}

async function writeEntryFile(abs: string, e: WorkspaceEntry): Promise<void> {
  const st = await lstat(abs).catch(() => undefined);
  if (st && !st.isFile()) await rm(abs, { recursive: true, force: true });
  const fh = await open(abs, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | fsc.O_NOFOLLOW, 0o600);
  try {
    await fh.writeFile(e.content as Uint8Array);
    await fh.chmod(e.mode);
  } finally {
    await fh.close();
  }
  await setTimes(abs, e.mtimeMs);
}

async function setTimes(abs: string, mtimeMs: number): Promise<void> {
  if (!Number.isFinite(mtimeMs) || mtimeMs <= 0) return;
  const t = mtimeMs / 1000;
  await utimes(abs, t, t);
}

/** Removes what is on disk but not listed (or listed with another type); never follows links. */
async function removeUnlisted(
  absDir: string,
  relDir: string,
  map: ReadonlyMap<string, WorkspaceEntry>,
): Promise<void> {
  const names = await readdir(absDir);
  for (const name of names) {
    const rel = relDir ? `${relDir}/${name}` : name;
    const abs = join(absDir, name);
    const st = await lstat(abs);
    const want = map.get(rel);
    if (!want || want.type !== typeOf(st)) {
      await rm(abs, { recursive: true, force: true });
    } else if (want.type === 'dir') {
      await removeUnlisted(abs, rel, map);
    }
  }
}
