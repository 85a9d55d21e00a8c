import { register } from 'prom-client';
import { PersistenceJobDefs, QueueNames } from '@executor/queues';
import { hashContent } from '@executor/session-state';
import {
  contents,
  file,
  keys,
  makeState,
  restore,
  snapshot,
  startHarness,
  type Harness,
} from '../../../test/harness';
import { StateStore } from '../store/state-store';

async function metricValue(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await register.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

describe('restore jobs (real queues, real Redis)', () => {
  let h: Harness;
  let store: StateStore;

  beforeAll(async () => {
    h = await startHarness({ KEEP_VERSIONS: '2' });
    store = h.app.get(StateStore);
  });
  afterAll(() => h.close());

  it('answers found: false for an unknown session', async () => {
    expect(await restore(h, 'nobody')).toEqual({ found: false });
    expect(await metricValue('persistence_restores_total', { outcome: 'not_found' })).toBe(1);
  });

  it('rejects a malformed payload as invalid_argument', async () => {
    await expect(
      h.client.call(
        QueueNames.restore,
        PersistenceJobDefs.restore,
        { sessionId: 'bad id!' },
        { timeoutMs: 10_000 },
      ),
    ).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('falls back to the previous version when a blob of the newest is corrupted (logged, counted)', async () => {
    const v1 = makeState('corrupt-me', [
      file('x.txt', 'version one\n'.repeat(50)),
      file('same.txt', 'unchanged'),
    ]);
    const v2 = makeState('corrupt-me', [
      file('x.txt', 'version two\n'.repeat(50)),
      file('same.txt', 'unchanged'),
    ]);
    await snapshot(h, v1);
    await snapshot(h, v2);
    expect((await restore(h, 'corrupt-me')).version).toBe(2);
    const blobKey = store.keys.blob(hashContent(Buffer.from('version two\n'.repeat(50))));
    const data = await h.cmd.getBuffer(blobKey);
    expect(data).not.toBeNull();
    const bad = Buffer.from(data as Buffer);
    bad[bad.length - 4] = (bad[bad.length - 4] as number) ^ 0x10;
    await h.cmd.set(blobKey, bad);
    const back = await restore(h, 'corrupt-me');
    expect(back.version).toBe(1);
    expect(contents(back.state as never)).toEqual(contents(v1));
    expect(await metricValue('persistence_restores_total', { outcome: 'fallback' })).toBe(1);
    expect(await metricValue('persistence_integrity_failures_total')).toBe(1);
  });

  it('fails with internal (not a silent empty state) when no version is intact', async () => {
    await snapshot(h, makeState('all-bad', [file('only.txt', 'only content')]));
    await h.cmd.set(store.keys.blob(hashContent(Buffer.from('only content'))), Buffer.from('garbage'));
    await expect(restore(h, 'all-bad')).rejects.toMatchObject({
      code: 'internal',
      message: expect.stringMatching(/no stored version passes/),
    });
  });

  it('keeps KEEP_VERSIONS versions and frees the blobs only trimmed versions used', async () => {
    const content = (i: number): string => `content of version ${i}\n`.repeat(20);
    for (let i = 1; i <= 3; i++)
      await snapshot(h, makeState('trim', [file('f.txt', content(i)), file('keep.txt', 'always here')]));
    const info = await store.info('trim');
    expect(info?.versions.map((v) => v.version)).toEqual([3, 2]);
    expect(await h.cmd.exists(store.keys.blob(hashContent(Buffer.from(content(1)))))).toBe(0);
    expect(await h.cmd.exists(store.keys.blob(hashContent(Buffer.from(content(2)))))).toBe(1);
    expect(await h.cmd.exists(store.keys.blob(hashContent(Buffer.from('always here'))))).toBe(1);
    expect(await keys(h.cmd, `${store.keys.session('trim')}:m:*`)).toEqual([
      store.keys.manifest('trim', 2),
      store.keys.manifest('trim', 3),
    ]);
    expect((await restore(h, 'trim')).state?.files.find((f) => f.path === 'f.txt')?.content?.toString()).toBe(
      content(3),
    );
  });
});
