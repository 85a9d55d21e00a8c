import { hashContent } from '@executor/session-state';
import { file, keys, makeState, restore, snapshot, startHarness, type Harness } from '../../../test/harness';
import { StateStore } from '../store/state-store';
import { SweeperService } from './sweeper.service';
import { PersistenceJobDefs, QueueNames } from '@executor/queues';

describe('expiry sweeper', () => {
  let h: Harness;
  let store: StateStore;
  let sweeper: SweeperService;

  beforeAll(async () => {
    h = await startHarness({ GRACE_SECONDS: '60' });
    store = h.app.get(StateStore);
    sweeper = h.app.get(SweeperService);
  });
  afterAll(() => h.close());

  it('removes state past expiresAt + grace with its unshared blobs, keeps shared ones and touched sessions', async () => {
    const past = new Date(Date.now() - 61_000).toISOString(); // expired, grace (60 s) over too
    const recent = new Date(Date.now() - 30_000).toISOString(); // expired, still within grace
    const shared = file('shared.txt', 'shared by everyone');
    await snapshot(h, makeState('old', [shared, file('mine.txt', 'only old has this')]), { expiresAt: past });
    await snapshot(h, makeState('grace', [shared]), { expiresAt: recent });
    await snapshot(h, makeState('touched', [file('t.txt', 'touched one')]), { expiresAt: past });
    const touched = await h.client.call(
      QueueNames.persistenceAdmin,
      PersistenceJobDefs.touch,
      { sessionId: 'touched', expiresAt: new Date(Date.now() + 3600_000).toISOString() },
      { timeoutMs: 10_000 },
    );
    expect(touched).toEqual({ found: true });

    expect(await sweeper.sweep()).toEqual(['old']);
    expect(await restore(h, 'old')).toEqual({ found: false });
    expect(await keys(h.cmd, `${store.keys.session('old')}*`)).toEqual([]);
    expect(await h.cmd.exists(store.keys.blob(hashContent(Buffer.from('only old has this'))))).toBe(0);
    expect(await h.cmd.exists(store.keys.blob(shared.hash as string))).toBe(1);
    expect((await restore(h, 'grace')).found).toBe(true);
    expect((await restore(h, 'touched')).found).toBe(true);

    // Later the grace period of "grace" is over too: its blob had no other user left.
    expect(await sweeper.sweep(Date.now() + 31_000)).toEqual(['grace']);
    expect(await h.cmd.exists(store.keys.blob(shared.hash as string))).toBe(0);
    expect(await store.stats()).toMatchObject({ sessions: 1, versions: 1, blobs: 1 });
  });
});
