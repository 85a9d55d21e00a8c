import { hash } from 'node:crypto';

/** sha256 of `buf` as lowercase hex (the content address of a file). */
export function hashContent(buf: Uint8Array): string {
  return hash('sha256', buf, 'hex');
}

/** True when `s` looks like a sha256 hex digest. */
export function isContentHash(s: unknown): s is string {
  return typeof s === 'string' && /^[0-9a-f]{64}$/.test(s);
}
