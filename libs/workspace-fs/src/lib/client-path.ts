import { WorkspaceFsError, WorkspaceFsErrorCodes } from './errors';

/**
 * The syntactic part: pure functions (no I/O) shared by the load balancer, the E2B layer and the
 * executor. Paths are normalised, never resolved: `..` is refused rather than collapsed (with
 * symlinks, `a/../b` lexically is not `a/../b` physically), so a path that is accepted here
 * names the same entry the I/O part will walk to, one component at a time.
 */

/** Where session code sees its workspace (PLAN D1). */
export const SANDBOX_HOME = '/home/user';
/** Where session code sees its private tmp. */
export const SANDBOX_TMP = '/tmp';
/** Longest client path accepted (bytes of UTF-8, like PATH_MAX). */
export const MAX_PATH_BYTES = 4096;
/** Longest single component (NAME_MAX). */
export const MAX_NAME_BYTES = 255;

/** The two writable areas of a session. */
export type PathArea = 'workspace' | 'tmp';

/** A client path after normalisation. */
export interface ClientPath {
  area: PathArea;
  /** Canonical relative path inside the area (`a/b/c`); `''` is the area's root. */
  path: string;
}

export interface ParseOptions {
  /**
   * Absolute sandbox paths accepted: `/home/user/...` (workspace) and/or `/tmp/...` (tmp).
   * `true` (default) accepts both, `false` none (relative paths only), or a list of areas.
   */
  absolute?: boolean | readonly PathArea[];
  /** The area root itself (`''`, `.`, `/home/user`) is acceptable (list, stat, watch). Default false. */
  allowRoot?: boolean;
  /**
   * `'literal'` (default): a backslash is an ordinary character, as on Linux.
   * `'separator'`: `\` separates like `/` and Windows forms (`C:\x`, `\\server\x`) are refused as
   * absolute (the HTTP API, where such paths are a client mistake).
   */
  backslash?: 'literal' | 'separator';
  /** Default {@link MAX_PATH_BYTES}. */
  maxBytes?: number;
}

function refuse(raw: string, why: string): never {
  throw new WorkspaceFsError(WorkspaceFsErrorCodes.invalidPath, raw, why);
}

/**
 * Normalises a client path: relative paths are relative to the workspace (the sandbox's cwd and
 * home), `/home/user/x` is the workspace's `x`, `/tmp/x` the private tmp's `x`. Empty and `.`
 * segments and repeated slashes are dropped. Refused with `invalid_path`: non-strings, NUL, any
 * `..` segment, other absolute paths, components over 255 bytes, paths over 4096 bytes, and the
 * area root unless `allowRoot`.
 */
export function parseClientPath(raw: unknown, opts: ParseOptions = {}): ClientPath {
  if (typeof raw !== 'string') refuse(String(raw), 'path must be a string');
  if (raw.length === 0) refuse(raw, 'path is empty');
  if (raw.includes('\0')) refuse(raw, 'path contains a NUL byte');
  if (Buffer.byteLength(raw) > (opts.maxBytes ?? MAX_PATH_BYTES))
    refuse(raw, `path is longer than ${opts.maxBytes ?? MAX_PATH_BYTES} bytes`);
  const sepAlso = opts.backslash === 'separator';
  if (sepAlso && (/^[A-Za-z]:/.test(raw) || raw.startsWith('\\')))
    refuse(raw, `"${raw}" is a Windows absolute path; use a path relative to the workspace`);
  const segments = raw.split(sepAlso ? /[\\/]+/ : /\/+/);
  let area: PathArea = 'workspace';
  let rest = segments;
  if (raw.startsWith('/')) {
    const accepted: readonly PathArea[] =
      opts.absolute === false
        ? []
        : opts.absolute === true || opts.absolute === undefined
          ? ['workspace', 'tmp']
          : opts.absolute;
    const abs = matchArea(segments);
    if (!abs || !accepted.includes(abs.area)) {
      const allowed = accepted.map((a) => (a === 'workspace' ? `${SANDBOX_HOME}/...` : `${SANDBOX_TMP}/...`));
      refuse(
        raw,
        `"${raw}" is absolute; use a path relative to the workspace${allowed.length ? ` or one under ${allowed.join(' or ')}` : ''}`,
      );
    }
    area = abs.area;
    rest = abs.rest;
  }
  const parts: string[] = [];
  for (const seg of rest) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') refuse(raw, `"${raw}" escapes the workspace (a ".." segment)`);
    if (Buffer.byteLength(seg) > MAX_NAME_BYTES)
      refuse(raw, `a component of "${raw}" is longer than 255 bytes`);
    parts.push(seg);
  }
  if (parts.length === 0 && !opts.allowRoot)
    refuse(
      raw,
      `"${raw}" names the ${area === 'workspace' ? 'workspace' : 'tmp directory'} itself, not an entry in it`,
    );
  return { area, path: parts.join('/') };
}

/** `/home/user[/...]` or `/tmp[/...]` split on `/`: which area, and the segments after it. */
function matchArea(segments: string[]): { area: PathArea; rest: string[] } | undefined {
  const nonEmpty = segments.filter((x) => x !== '');
  const home = SANDBOX_HOME.split('/').filter(Boolean);
  const tmp = SANDBOX_TMP.split('/').filter(Boolean);
  const startsWith = (prefix: string[]): boolean =>
    prefix.every((p, i) => nonEmpty[i] === p) && nonEmpty.length >= prefix.length;
  if (startsWith(home)) return { area: 'workspace', rest: nonEmpty.slice(home.length) };
  if (startsWith(tmp)) return { area: 'tmp', rest: nonEmpty.slice(tmp.length) };
  return undefined;
}

/** A workspace-relative path (relative, or absolute under `/home/user` when `absolute` allows it). */
export function workspacePath(
  raw: unknown,
  opts: Omit<ParseOptions, 'absolute'> & { absolute?: boolean } = {},
): string {
  const p = parseClientPath(raw, { ...opts, absolute: opts.absolute === false ? false : ['workspace'] });
  return p.path;
}

/** The path as session code sees it: `/home/user/a/b` or `/tmp/a/b`. */
export function sandboxPath(p: ClientPath): string {
  const base = p.area === 'workspace' ? SANDBOX_HOME : SANDBOX_TMP;
  return p.path ? `${base}/${p.path}` : base;
}

/**
 * True when `path` is already a canonical relative path (what states and listings carry): not
 * empty, not absolute, no `.`/`..`/empty segments, no NUL, components ≤ 255 bytes.
 */
export function isCanonicalPath(path: unknown): path is string {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0') || path.startsWith('/'))
    return false;
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return false;
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.' || seg === '..' || Buffer.byteLength(seg) > MAX_NAME_BYTES) return false;
  }
  return true;
}

/** True when `name` is one directory entry name: not empty, not `.`/`..`, no `/`, no NUL. */
export function isEntryName(name: string): boolean {
  return (
    name.length > 0 &&
    name !== '.' &&
    name !== '..' &&
    !name.includes('/') &&
    !name.includes('\0') &&
    Buffer.byteLength(name) <= MAX_NAME_BYTES
  );
}

/** `a/b` + `c` → `a/b/c`; `''` + `c` → `c`. */
export function joinPath(dir: string, name: string): string {
  return dir ? `${dir}/${name}` : name;
}

/** The parent of a canonical path (`''` for a top-level entry). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/** The last component of a canonical path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
