import { JobRpcClient, PersistenceJobDefs, QueueNames, executorTag } from '@executor/queues';
import {
  file,
  makeState,
  snapshot,
  snapshotPayload,
  startHarness,
  type Harness,
} from '../../../test/harness';

/** Jobs of an executor carry its tag (acl.ts): another pool's session is out of its reach. */
describe('persistence checks the requesting executor of tagged jobs', () => {
  let h: Harness;
  let foreign: JobRpcClient;
  let own: JobRpcClient;

  beforeAll(async () => {
    h = await startHarness();
    await snapshot(h, makeState('held-by-python', [file('secret.txt', 'tenant data')]));
    foreign = new JobRpcClient({
      redisUrl: h.redis.url,
      prefix: h.config.QUEUE_PREFIX,
      jobIdPrefix: executorTag({ pool: 'node', pod: 'node-abc' }),
    });
    own = new JobRpcClient({
      redisUrl: h.redis.url,
      prefix: h.config.QUEUE_PREFIX,
      jobIdPrefix: executorTag({ pool: 'python', pod: 'python-1' }),
    });
  });
  afterAll(async () => {
    await foreign?.close();
    await own?.close();
    await h?.close();
  });

  const restore = (c: JobRpcClient, sessionId: string) =>
    c.call(QueueNames.restore, PersistenceJobDefs.restore, { sessionId }, { timeoutMs: 10_000 });

  it("an executor of another pool gets 'not found' for the session (restore and delete)", async () => {
    expect(await restore(foreign, 'held-by-python')).toEqual({ found: false });
    expect(
      await foreign.call(
        QueueNames.persistenceAdmin,
        PersistenceJobDefs.delete,
        { sessionId: 'held-by-python' },
        { timeoutMs: 10_000 },
      ),
    ).toEqual({ deleted: false });
    const mine = await restore(own, 'held-by-python');
    expect(mine).toMatchObject({ found: true, version: 1 });
    // The state was handed over under the requester's own tag (only its Redis user may take it).
    expect(mine.state?.key).toContain(`:xfer:${executorTag({ pool: 'python', pod: 'python-1' })}`);
  });

  it('a snapshot from another pool, or for a session stored for another tenant, is a conflict', async () => {
    const overwrite = await snapshotPayload(h, makeState('held-by-python', [file('secret.txt', 'evil')]), {
      pool: 'node',
    });
    await expect(
      foreign.call(QueueNames.snapshot, PersistenceJobDefs.snapshot, overwrite, { timeoutMs: 10_000 }),
    ).rejects.toMatchObject({ code: 'conflict' });
    const otherTenant = await snapshotPayload(
      h,
      makeState('held-by-python', [file('secret.txt', 'evil')], { tenant: 'globex' }),
    );
    await expect(
      own.call(QueueNames.snapshot, PersistenceJobDefs.snapshot, otherTenant, { timeoutMs: 10_000 }),
    ).rejects.toMatchObject({ code: 'conflict' });
    const still = await restore(own, 'held-by-python');
    expect(still.version).toBe(1);
  });
});
