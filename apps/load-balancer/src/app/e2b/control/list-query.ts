import { ApiError } from '../../http/api-error';
import type { SessionRecord } from '../../state/session-store';
import { e2bState } from './sandbox-view';

/** `GET /v2/sandboxes` query, parsed. */
export interface ListQuery {
  metadata: Record<string, string>;
  states: Array<'running' | 'paused'>;
  template?: string;
  startedAfter?: number;
  order: 'asc' | 'desc';
  limit: number;
  after?: Cursor;
}

/** Position in the ordered list: the last item of the previous page. */
export interface Cursor {
  createdAt: number;
  id: string;
}

export const MAX_LIST_LIMIT = 100;

const one = (v: unknown): string | undefined =>
  Array.isArray(v)
    ? v.length
      ? v.map(String).join(',')
      : undefined
    : v === undefined
      ? undefined
      : String(v);

/**
 * Parses the list query as the SDK sends it. `metadata` is `k=v&k2=v2` with each key and value
 * URL-encoded before joining (so it is encoded twice on the wire): the query parser decodes once,
 * then each pair is split and decoded again. Arrays (`state`) are comma-joined.
 */
export function parseListQuery(query: Record<string, unknown>): ListQuery {
  const metadata: Record<string, string> = {};
  const rawMeta = one(query['metadata']);
  if (rawMeta) {
    for (const [k, v] of new URLSearchParams(rawMeta)) {
      try {
        metadata[decodeURIComponent(k)] = decodeURIComponent(v);
      } catch {
        throw new ApiError('invalid_argument', `metadata: "${k}" is not URL-encoded correctly`);
      }
    }
  }
  const states: Array<'running' | 'paused'> = [];
  for (const s of (one(query['state']) ?? '').split(',').filter(Boolean)) {
    if (s !== 'running' && s !== 'paused')
      throw new ApiError('invalid_argument', `state: "${s}" is not running or paused`);
    states.push(s);
  }
  const order = one(query['order']) ?? 'desc';
  if (order !== 'asc' && order !== 'desc')
    throw new ApiError('invalid_argument', 'order: must be asc or desc');
  const limitRaw = one(query['limit']);
  const limit = limitRaw === undefined ? MAX_LIST_LIMIT : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT)
    throw new ApiError('invalid_argument', `limit: must be an integer from 1 to ${MAX_LIST_LIMIT}`);
  const startedRaw = one(query['startedAfter']);
  const startedAfter = startedRaw ? Date.parse(startedRaw) : undefined;
  if (startedAfter !== undefined && Number.isNaN(startedAfter))
    throw new ApiError('invalid_argument', 'startedAfter: not an RFC 3339 time');
  const token = one(query['nextToken']);
  return {
    metadata,
    states: states.length ? states : ['running', 'paused'],
    template: one(query['template']) || undefined,
    startedAfter,
    order,
    limit,
    after: token ? decodeCursor(token) : undefined,
  };
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.createdAt, c.id])).toString('base64url');
}

export function decodeCursor(token: string): Cursor {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as [
      unknown,
      unknown,
    ];
    if (typeof createdAt === 'number' && typeof id === 'string') return { createdAt, id };
  } catch {
    // fall through
  }
  throw new ApiError('invalid_argument', 'nextToken: not a token this server issued');
}

/** Filters, orders and pages the tenant's sessions; `next` is the X-Next-Token of the page, if more follow. */
export function pageSandboxes(all: SessionRecord[], q: ListQuery): { items: SessionRecord[]; next?: string } {
  const dir = q.order === 'asc' ? 1 : -1;
  const cmp = (a: Cursor, b: Cursor): number =>
    dir * (a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const matching = all
    .filter((s) => q.states.includes(e2bState(s)))
    .filter((s) => !q.template || s.template === q.template)
    .filter((s) => q.startedAfter === undefined || s.createdAt >= q.startedAfter)
    .filter((s) => Object.entries(q.metadata).every(([k, v]) => s.metadata[k] === v))
    .sort(cmp)
    .filter((s) => !q.after || cmp(s, q.after) > 0);
  const items = matching.slice(0, q.limit);
  const last = items[items.length - 1];
  return { items, next: matching.length > q.limit && last ? encodeCursor(last) : undefined };
}
