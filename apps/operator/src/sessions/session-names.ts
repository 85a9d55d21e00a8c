import { createHash } from 'node:crypto';
import { GROUP } from '@executor/crd';

/** Finalizer on persistent sessions: their stored state is deleted before the object goes. */
export const SESSION_FINALIZER = `${GROUP}/session-state`;

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/**
 * The ExecutorSession object name of a session id. Ids that already are lowercase DNS names are used
 * as they are; others (upper case, `_`) are lowercased, `_` → `-`, and suffixed with a hash of the exact
 * id so two ids differing only in case never share an object.
 */
export function sessionObjectName(sessionId: string): string {
  if (DNS1123_SUBDOMAIN.test(sessionId) && sessionId.length <= 253) return sessionId;
  const base = sessionId
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '')
    .slice(0, 200);
  const hash = createHash('sha256').update(sessionId).digest('hex').slice(0, 10);
  return base ? `${base}-${hash}` : `s-${hash}`;
}
