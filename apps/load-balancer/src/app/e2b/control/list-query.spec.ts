import type { SessionRecord } from '../../state/session-store';
import { decodeCursor, encodeCursor, pageSandboxes, parseListQuery } from './list-query';

const rec = (id: string, createdAt: number, over: Partial<SessionRecord> = {}): SessionRecord => ({
  id,
  tenant: 't',
  template: 'base',
  pool: 'p',
  pod: 'p-0',
  region: '',
  persist: true,
  ttlSeconds: 60,
  createdAt,
  expiresAt: createdAt + 60_000,
  env: {},
  metadata: {},
  ...over,
});

describe('E2B list query', () => {
  it('decodes metadata encoded twice, as the SDK sends it', () => {
    // SDK: {"a b": "c&d"} → encodeURIComponent each → URLSearchParams → on the wire encoded again;
    // the query parser has decoded the outer layer already.
    const q = parseListQuery({ metadata: 'a%2520b=c%2526d&k=v%253D1' });
    expect(q.metadata).toEqual({ 'a b': 'c&d', k: 'v=1' });
  });

  it('reads comma-joined states, defaults to running and paused, refuses bad values', () => {
    expect(parseListQuery({}).states).toEqual(['running', 'paused']);
    expect(parseListQuery({ state: 'paused' }).states).toEqual(['paused']);
    expect(parseListQuery({ state: 'running,paused' }).states).toEqual(['running', 'paused']);
    expect(() => parseListQuery({ state: 'dead' })).toThrow('state');
    expect(() => parseListQuery({ limit: '0' })).toThrow('limit');
    expect(() => parseListQuery({ limit: '101' })).toThrow('limit');
    expect(() => parseListQuery({ nextToken: 'garbage' })).toThrow('nextToken');
  });

  it('filters by state, metadata and template, newest first by default, and pages with a cursor', () => {
    const all = [
      rec('a', 1, { metadata: { env: 'prod' } }),
      rec('b', 2, { metadata: { env: 'prod' }, state: 'paused' }),
      rec('c', 3, { metadata: { env: 'dev' } }),
      rec('d', 4, { metadata: { env: 'prod' }, template: 'code-interpreter-v1' }),
      rec('e', 5, { metadata: { env: 'prod' } }),
    ];
    const q = parseListQuery({ metadata: 'env=prod', limit: '2' });
    const p1 = pageSandboxes(all, q);
    expect(p1.items.map((s) => s.id)).toEqual(['e', 'd']);
    expect(p1.next).toBeDefined();
    const p2 = pageSandboxes(all, { ...q, after: decodeCursor(p1.next as string) });
    expect(p2.items.map((s) => s.id)).toEqual(['b', 'a']);
    expect(p2.next).toBeUndefined();
    expect(pageSandboxes(all, parseListQuery({ state: 'paused' })).items.map((s) => s.id)).toEqual(['b']);
    expect(pageSandboxes(all, parseListQuery({ template: 'code-interpreter-v1' })).items).toHaveLength(1);
    expect(pageSandboxes(all, parseListQuery({ order: 'asc', limit: '1' })).items[0]?.id).toBe('a');
    expect(decodeCursor(encodeCursor({ createdAt: 7, id: 'x' }))).toEqual({ createdAt: 7, id: 'x' });
  });
});
