import { ApiError } from '../http/api-error';

/**
 * Normalises a workspace-relative path from the URL. Anything that could escape the workspace
 * (`..` segments, absolute paths, drive letters, NUL) is a 400; the executor also refuses
 * symlinks that lead out.
 */
export function workspacePath(raw: string | undefined): string {
  const p = raw ?? '';
  if (!p) throw new ApiError('invalid_argument', 'path: a file path is required after /files/');
  if (p.includes('\0')) throw new ApiError('invalid_argument', 'path: must not contain NUL');
  if (p.startsWith('/') || p.startsWith('\\') || /^[A-Za-z]:/.test(p)) {
    throw new ApiError('invalid_argument', `path: "${p}" is absolute; use a path relative to the workspace`);
  }
  const parts = p.split(/[\\/]+/);
  if (parts.includes('..')) throw new ApiError('invalid_argument', `path: "${p}" escapes the workspace`);
  const clean = parts.filter((s) => s && s !== '.').join('/');
  if (!clean) throw new ApiError('invalid_argument', `path: "${p}" names the workspace itself, not a file`);
  if (clean.length > 4096) throw new ApiError('invalid_argument', 'path: longer than 4096 characters');
  return clean;
}
