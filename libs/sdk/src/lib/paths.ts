import { InvalidArgumentError } from './errors.js';

/**
 * Encodes a workspace path for `/files/{path}`: each segment URL-encoded, `.` segments dropped.
 * Absolute paths and `..` segments are refused here (the server refuses them too, but a URL
 * cannot even carry a `..` segment: fetch would resolve it away and hit another route).
 */
export function encodeWorkspacePath(path: string): string {
  if (typeof path !== 'string' || path.length === 0) {
    throw new InvalidArgumentError('file path: must be a non-empty string', { status: 0 });
  }
  if (path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(path)) {
    throw new InvalidArgumentError(`file path "${path}": must be relative to the session's workspace`, {
      status: 0,
    });
  }
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) {
    throw new InvalidArgumentError(`file path "${path}": ".." would escape the session's workspace`, {
      status: 0,
    });
  }
  if (segments.length === 0)
    throw new InvalidArgumentError(`file path "${path}": names no file`, { status: 0 });
  return segments.map(encodeURIComponent).join('/');
}

/** Encodes one id/name as a single path segment. */
export function seg(value: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(`${what}: must be a non-empty string`, { status: 0 });
  }
  return encodeURIComponent(value);
}
