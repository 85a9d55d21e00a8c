import { createHash, timingSafeEqual } from 'node:crypto';
import { SANDBOX_USER } from '../e2b-protocol';

/** Constant-time comparison of a presented token with the stored one. */
export function tokenMatches(presented: string | undefined, stored: string | undefined): boolean {
  if (!presented || !stored) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(stored);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The signature of a `/files` URL (`uploadUrl()`/`downloadUrl()`, for clients that cannot send
 * X-Access-Token): `v1_` + base64(sha256("<path>:<read|write>:<user>:<token>[:<expiration>]")) without `=`.
 */
export function fileSignature(
  path: string,
  operation: 'read' | 'write',
  user: string,
  token: string,
  expiration?: number,
): string {
  const raw = `${path}:${operation}:${user}:${token}${expiration !== undefined ? `:${expiration}` : ''}`;
  return `v1_${createHash('sha256').update(raw).digest('base64').replace(/=+$/, '')}`;
}

/** Checks a signed `/files` request; false when the signature is wrong or expired. */
export function signatureValid(
  q: { path?: string; username?: string; signature?: string; signature_expiration?: string },
  operation: 'read' | 'write',
  token: string | undefined,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  if (!token || !q.signature || q.path === undefined) return false;
  let exp: number | undefined;
  if (q.signature_expiration !== undefined && q.signature_expiration !== '') {
    exp = Number(q.signature_expiration);
    if (!Number.isInteger(exp) || exp < nowSeconds) return false;
  }
  return tokenMatches(q.signature, fileSignature(q.path, operation, q.username ?? '', token, exp));
}

/**
 * The sandbox user a request asks for (`username` query, or `Authorization: Basic base64(user:)`).
 * The sandbox has one user, `user`; `root` is accepted and runs as `user` (documented), anything
 * else is refused (undefined).
 */
export function sandboxUser(
  username: string | undefined,
  authorization: string | undefined,
): string | undefined {
  let name = username;
  if (!name && authorization?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    name = decoded.split(':')[0];
  }
  if (!name || name === SANDBOX_USER || name === 'root') return SANDBOX_USER;
  return undefined;
}
