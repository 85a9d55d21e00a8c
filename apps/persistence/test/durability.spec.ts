// Redis restart with AOF between snapshot and restore loses nothing.
import { file, makeState, restore, snapshot, startHarness, contents, type Harness } from './harness';
import { StateStore } from '../src/app/store/state-store';

describe('Redis restart (AOF on)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, { appendOnly: true });
  });
  afterAll(() => h.close());

  it('restores every version and the stats after redis-server restarts', async () => {
    const v1 = makeState('aof', [
      file('a.txt', 'first\n'.repeat(100)),
      file('bin', Buffer.from([0, 1, 2, 3]), 0o700),
    ]);
    const v2 = makeState('aof', [
      file('a.txt', 'second\n'.repeat(100)),
      file('bin', Buffer.from([0, 1, 2, 3]), 0o700),
    ]);
    await snapshot(h, v1);
    await snapshot(h, v2);
    const store = h.app.get(StateStore);
    const statsBefore = await store.stats();
    const infoBefore = await store.info('aof');

    await h.redis.restart(); // SIGTERM + start again on the same dir: the AOF is replayed

    const back = await restore(h, 'aof');
    expect(back.version).toBe(2);
    expect(contents(back.state as never)).toEqual(contents(v2));
    expect(back.state?.files.find((f) => f.path === 'bin')?.mode).toBe(0o700);
    expect(await store.stats()).toEqual(statsBefore);
    expect(await store.info('aof')).toEqual(infoBefore);
    // And the service keeps working on the restarted server.
    expect((await snapshot(h, v1)).version).toBe(3);
  });
});
