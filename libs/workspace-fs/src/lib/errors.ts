/**
 * Errors of workspace-fs. Every one carries a stable `code` (and the workspace path it is
 * about) so callers map them to their own error codes deliberately — never by parsing messages,
 * and never by letting an errno through as an "internal" error.
 */
export const WorkspaceFsErrorCodes = {
  /** The client path is not acceptable (empty, NUL, `..`, absolute outside the sandbox areas, too long). */
  invalidPath: 'invalid_path',
  /** A symlink on the way (or the one asked for) leads outside the root. */
  escape: 'escape',
  /** Nothing there (also: a component on the way vanished or is not a directory when reading). */
  notFound: 'not_found',
  /** A component that must be a directory is something else. */
  notDirectory: 'not_a_directory',
  /** A file operation was asked on a directory. */
  isDirectory: 'is_a_directory',
  /** Not a regular file: FIFO, socket, device (or a symlink where none is followed). */
  notFile: 'not_a_file',
  /** The destination exists (and may not be replaced). */
  exists: 'exists',
  /** A directory is not empty (non-recursive remove, rename onto it). */
  notEmpty: 'not_empty',
  /** Bigger than the bound given (file size, bytes streamed). */
  tooLarge: 'too_large',
  /** The filesystem (the slot's tmpfs quota) is full: ENOSPC, EDQUOT, EFBIG. */
  noSpace: 'no_space',
  /** Too many symlinks followed, too deep a tree, too long a path. */
  tooDeep: 'too_deep',
  /** An operation that makes no sense on this target (rename a directory into itself, remove the root). */
  invalidOperation: 'invalid_operation',
  /** The entry kept changing under concurrent writers and could not be read consistently. */
  unstable: 'unstable',
} as const;
export type WorkspaceFsErrorCode = (typeof WorkspaceFsErrorCodes)[keyof typeof WorkspaceFsErrorCodes];

export class WorkspaceFsError extends Error {
  constructor(
    readonly code: WorkspaceFsErrorCode,
    /** The path the error is about, as the caller named it (relative to the root). */
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'WorkspaceFsError';
  }
}

/** The errno code of a Node fs error, if any. */
export function errnoCode(err: unknown): string | undefined {
  const c = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof c === 'string' ? c : undefined;
}

/**
 * errno codes that mean "the tree changed under us" when they come from an entry found a moment
 * earlier: it vanished (ENOENT), a directory on the way was replaced by a file or a symlink
 * (ENOTDIR, and ELOOP from O_NOFOLLOW), or a FIFO/socket/device appeared (ENXIO, EACCES on a nodev
 * mount). Capture and listing treat these as races: the entry is skipped or read again.
 */
const RACE_CODES = new Set(['ENOENT', 'ENOTDIR', 'ELOOP', 'ENXIO', 'ESTALE', 'EINVAL']);

export function isRaceError(err: unknown): boolean {
  const c = errnoCode(err);
  return c !== undefined && RACE_CODES.has(c);
}
