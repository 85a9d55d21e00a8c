import { PersistenceJobDefs, QueueNames } from '@executor/queues';
import { file, keys, makeState, snapshot, startHarness, type Harness } from '../../../test/harness';
import { StateStore } from '../store/state-store';

describe('admin jobs (real queues, real Redis)', () => {
  let h: Harness;
  const call = <D extends (typeof PersistenceJobDefs)[keyof typeof PersistenceJobDefs]>(
    def: D,
    payload: unknown,
  ) => h.client.call(QueueNames.persistenceAdmin, def, payload as never, { timeoutMs: 10_000 });

  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('indexes sessions by the pod (and pool) that last snapshotted them', async () => {
    await snapshot(h, makeState('s1', [file('a', '1')]), { pod: 'pod-a', pool: 'py' });
    await snapshot(h, makeState('s2', [file('a', '2')]), { pod: 'pod-a', pool: 'py' });
    await snapshot(h, makeState('s2', [file('a', '3')]), { pod: 'pod-b', pool: 'node' }); // migrated
    expect(await call(PersistenceJobDefs.podSessions, { pod: 'pod-a' })).toEqual({ sessionIds: ['s1'] });
    expect(await call(PersistenceJobDefs.podSessions, { pod: 'pod-b' })).toEqual({ sessionIds: ['s2'] });
    expect(await call(PersistenceJobDefs.podSessions, { pod: 'pod-z' })).toEqual({ sessionIds: [] });
    const store = h.app.get(StateStore);
    expect(await store.poolSessions('py')).toEqual(['s1']);
    expect(await store.poolSessions('node')).toEqual(['s2']);
  });

  it('touches and deletes, saying whether the session existed; delete removes every key', async () => {
    const future = new Date(Date.now() + 7200_000).toISOString();
    expect(await call(PersistenceJobDefs.touch, { sessionId: 's1', expiresAt: future })).toEqual({
      found: true,
    });
    expect(await call(PersistenceJobDefs.touch, { sessionId: 'ghost', expiresAt: future })).toEqual({
      found: false,
    });
    const store = h.app.get(StateStore);
    expect((await store.info('s1'))?.expiresAt).toBe(future);
    expect(await call(PersistenceJobDefs.delete, { sessionId: 's1' })).toEqual({ deleted: true });
    expect(await call(PersistenceJobDefs.delete, { sessionId: 's1' })).toEqual({ deleted: false });
    expect(await keys(h.cmd, `${store.keys.session('s1')}*`)).toEqual([]);
    expect(await call(PersistenceJobDefs.podSessions, { pod: 'pod-a' })).toEqual({ sessionIds: [] });
    expect(await h.cmd.zscore(store.keys.expiry, 's1')).toBeNull();
  });

  it('rejects malformed payloads and unknown jobs as invalid_argument', async () => {
    await expect(call(PersistenceJobDefs.touch, { sessionId: 's2', expiresAt: 42 })).rejects.toMatchObject({
      code: 'invalid_argument',
      message: expect.stringMatching(/expiresAt/),
    });
    await expect(
      call(PersistenceJobDefs.touch, { sessionId: 's2', expiresAt: 'not a date' }),
    ).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(
      h.client.call(
        QueueNames.persistenceAdmin,
        { ...PersistenceJobDefs.delete, name: 'state.explode' },
        { sessionId: 's2' },
        { timeoutMs: 10_000 },
      ),
    ).rejects.toMatchObject({
      code: 'invalid_argument',
      message: expect.stringMatching(/no job "state.explode"/),
    });
  });
});
