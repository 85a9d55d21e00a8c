import type Redis from 'ioredis';
import { createRedis, writeHeartbeat } from '@executor/queues';
import { startRedis, uniquePrefix, type TestRedis } from '@executor/testing';
import { SessionStore, type SessionRecord } from './session-store';

describe('SessionStore (real Redis)', () => {
  let redis: TestRedis;
  let client: Redis;
  let store: SessionStore;
  let prefix: string;
  const now = 1_000_000;
  const rec = (id: string, over: Partial<SessionRecord> = {}): SessionRecord => ({
    id,
    tenant: 'acme',
    template: 'python',
    pool: 'py',
    pod: 'py-0',
    region: 'eu',
    persist: true,
    ttlSeconds: 60,
    createdAt: now,
    expiresAt: now + 60_000,
    env: { A: '1' },
    metadata: {},
    ...over,
  });

  beforeAll(async () => {
    redis = await startRedis();
    client = createRedis(redis.url);
    prefix = uniquePrefix('store');
    store = new SessionStore(client, prefix, 3);
  });
  afterAll(async () => {
    client.disconnect();
    await redis.stop();
  });

  it('loads only for the owner and moves the idle expiry on touch, not on peek', async () => {
    await store.create(rec('s1'));
    expect(await store.load('s1', 'other', 'touch', { now })).toEqual({ status: 'missing' });
    const peek = await store.load('s1', 'acme', 'peek', { now: now + 10_000 });
    expect(peek).toMatchObject({
      status: 'ok',
      session: { expiresAt: now + 60_000, env: { A: '1' } },
      podAlive: false,
    });
    const touched = await store.load('s1', 'acme', 'touch', { now: now + 40_000 });
    expect(touched).toMatchObject({ status: 'ok', session: { expiresAt: now + 100_000 }, touchState: true });
    expect(Number(await client.zscore(store.keys.expiry, 's1'))).toBe(now + 100_000);
    expect(await store.load('s1', 'acme', 'touch', { now: now + 100_000 })).toEqual({ status: 'expired' });
  });

  it('reports the pod alive from its heartbeat in the same round trip', async () => {
    await store.create(rec('s2', { pod: 'py-live' }));
    const hb = {
      pool: 'py',
      pod: 'py-live',
      template: 'python',
      capacity: 5,
      sessions: 0,
      running: 0,
      load: 0,
      version: 't',
      queue: 'pod-py-live',
      accepting: true,
      startedAt: '',
      at: '',
    };
    await writeHeartbeat(client, hb, { prefix });
    expect(await store.load('s2', '*', 'peek', { now })).toMatchObject({ status: 'ok', podAlive: true });
  });

  it('claims an expired session exactly once among concurrent sweepers', async () => {
    await store.create(rec('s3', { expiresAt: now + 1000 }));
    expect(await store.remove('s3', '*', now)).toBeUndefined(); // not expired yet
    const claims = await Promise.all(Array.from({ length: 5 }, () => store.remove('s3', '*', now + 2000)));
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await client.exists(store.keys.session('s3'))).toBe(0);
    expect(await client.sismember(store.keys.tenant('acme'), 's3')).toBe(0);
    expect(await client.sismember(store.keys.podSessions('py-0'), 's3')).toBe(0);
  });

  it('moves a session with a compare-and-set on its pod (a second mover loses)', async () => {
    await store.create(rec('s4'));
    const m = { from: 'py-0', to: 'py-1', at: 'now', reason: 'heartbeat_lapsed' };
    const [a, b] = await Promise.all([
      store.move('s4', 'py-0', 'py-1', m),
      store.move('s4', 'py-0', 'py-2', { ...m, to: 'py-2' }),
    ]);
    expect([a, b].sort()).toEqual(['lost', 'moved']);
    const r = await store.load('s4', 'acme', 'peek', { now, withMigrations: true });
    expect(r.status === 'ok' && r.migrations).toHaveLength(1);
    expect(await store.move('nope', 'py-0', 'py-1', m)).toBe('missing');
  });

  it('caps the execution history at the limit, oldest dropped', async () => {
    for (let i = 0; i < 5; i++)
      await store.appendHistory('s4', {
        id: `e${i}`,
        code: `print(${i})`,
        exitCode: 0,
        durationMs: 1,
        at: 'now',
      });
    expect((await store.history('s4')).map((e) => e.id)).toEqual(['e2', 'e3', 'e4']);
  });

  it('keeps a fixed expiry on use; only a new TTL moves it (and may shorten it)', async () => {
    await store.create(rec('f1', { fixedExpiry: true }));
    const used = await store.load('f1', 'acme', 'touch', { now: now + 30_000 });
    expect(used).toMatchObject({ status: 'ok', session: { expiresAt: now + 60_000, fixedExpiry: true } });
    const reset = await store.load('f1', 'acme', 'touch', { now: now + 30_000, newTtlSeconds: 10 });
    expect(reset).toMatchObject({ status: 'ok', session: { expiresAt: now + 40_000, ttlSeconds: 10 } });
    expect(Number(await client.zscore(store.keys.expiry, 'f1'))).toBe(now + 40_000);
  });

  it('pauses (off the pod and pool counts, retention expiry) and resumes on another pod', async () => {
    await store.create(rec('p1'));
    expect(await store.pause('p1', 'py-0', now + 999_000, now)).toBe(false); // not pausing yet
    expect(await store.setState('p1', 'active', 'pausing')).toBe(true);
    expect(await store.setState('p1', 'active', 'pausing')).toBe(false);
    expect(await store.pause('p1', 'py-0', now + 999_000, now)).toBe(true);
    expect(await client.sismember(store.keys.podSessions('py-0'), 'p1')).toBe(0);
    expect(await client.sismember(store.keys.poolSessions('py'), 'p1')).toBe(0);
    expect(await client.sismember(store.keys.tenant('acme'), 'p1')).toBe(1);
    const paused = await store.load('p1', 'acme', 'touch', { now: now + 1000 });
    expect(paused).toMatchObject({
      status: 'ok',
      podAlive: false,
      session: { state: 'paused', pod: '', expiresAt: now + 999_000, pausedAt: now },
    });
    const m = { from: '', to: 'py-1', at: 'now', reason: 'resumed' };
    expect(await store.resume('p1', 'py', 'py-1', 120, m, now + 2000)).toBe(true);
    expect(await store.resume('p1', 'py', 'py-2', 120, m, now + 2000)).toBe(false);
    const live = await store.load('p1', 'acme', 'peek', { now: now + 2000, withMigrations: true });
    expect(live).toMatchObject({
      status: 'ok',
      session: { state: 'active', pod: 'py-1', ttlSeconds: 120, expiresAt: now + 122_000 },
      migrations: [m],
    });
    expect(await client.sismember(store.keys.podSessions('py-1'), 'p1')).toBe(1);
    expect(await client.sismember(store.keys.poolSessions('py'), 'p1')).toBe(1);
  });

  it('issues sandbox tokens once and never resurrects a removed session', async () => {
    await store.create(rec('t1'));
    const first = await store.ensureTokens('t1', { accessToken: 'a1', trafficToken: 'b1' });
    expect(first).toEqual({ accessToken: 'a1', trafficToken: 'b1' });
    expect(await store.ensureTokens('t1', { accessToken: 'a2', trafficToken: 'b2' })).toEqual(first);
    const r = await store.load('t1', 'acme', 'peek', { now });
    expect(r).toMatchObject({ session: { accessToken: 'a1', trafficToken: 'b1' } });
    expect(await store.ensureTokens('gone', { accessToken: 'a', trafficToken: 'b' })).toBeUndefined();
    expect(await client.exists(store.keys.session('gone'))).toBe(0);
  });
});
