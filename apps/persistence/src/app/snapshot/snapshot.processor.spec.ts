import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobCallError, PersistenceJobDefs, QueueNames, putTransfer } from '@executor/queues';
import {
  captureWorkspace,
  compressBlob,
  diffWorkspace,
  encodeState,
  restoreWorkspace,
  stripContent,
} from '@executor/session-state';
import { file, makeState, restore, snapshot, startHarness, type Harness } from '../../../test/harness';
import { StateStore } from '../store/state-store';

const MiB = 1024 * 1024;

describe('snapshot jobs (real queues, real Redis)', () => {
  let h: Harness;
  let store: StateStore;
  const tmp: string[] = [];
  const mk = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'ps-ws-'));
    tmp.push(d);
    return d;
  };

  beforeAll(async () => {
    h = await startHarness({ MAX_SNAPSHOT_BYTES: String(2 * MiB), SESSION_QUOTA_BYTES: String(3 * MiB) });
    store = h.app.get(StateStore);
  });
  afterAll(async () => {
    await h.close();
    for (const d of tmp) rmSync(d, { recursive: true, force: true });
  });

  it('round-trips a workspace with binary files, modes, symlinks and empty dirs', async () => {
    const a = mk();
    mkdirSync(join(a, 'src/lib'), { recursive: true });
    mkdirSync(join(a, 'empty/inner'), { recursive: true });
    writeFileSync(join(a, 'src/lib/mod.py'), 'def f():\n    return 42\n');
    writeFileSync(join(a, 'image.bin'), randomBytes(64 * 1024));
    writeFileSync(join(a, 'nul.bin'), Buffer.from([0, 0, 255, 0]));
    writeFileSync(join(a, 'run.sh'), '#!/bin/sh\n');
    chmodSync(join(a, 'run.sh'), 0o751);
    symlinkSync('src/lib/mod.py', join(a, 'mod-link'));
    const state = makeState('round-trip', await captureWorkspace(a));
    const res = await snapshot(h, state, { trigger: 'explicit' });
    expect(res).toMatchObject({ version: 1, newBlobs: 4 });
    expect(res.bytes).toBe(state.files.reduce((n, f) => n + f.size, 0));

    const back = await restore(h, 'round-trip');
    expect(back.version).toBe(1);
    expect(back.state?.env).toEqual(state.env);
    expect(back.state?.history).toEqual(state.history);
    expect(back.state?.packages).toEqual(state.packages);
    expect(back.state?.metadata).toEqual(state.metadata);
    const b = mk();
    await restoreWorkspace(b, back.state?.files ?? []);
    for (const p of ['src/lib/mod.py', 'image.bin', 'nul.bin', 'run.sh']) {
      expect(readFileSync(join(b, p)).equals(readFileSync(join(a, p)))).toBe(true);
      expect(statSync(join(b, p)).mode & 0o7777).toBe(statSync(join(a, p)).mode & 0o7777);
    }
    expect(readlinkSync(join(b, 'mod-link'))).toBe('src/lib/mod.py');
    expect(lstatSync(join(b, 'empty/inner')).isDirectory()).toBe(true);
  });

  it('stores only the changed blob for an incremental snapshot after a one-file change', async () => {
    const a = mk();
    const names: string[] = [];
    for (let i = 0; i < 40; i++) {
      writeFileSync(join(a, `f${i}.py`), `# file ${i}\n${randomBytes(1500).toString('hex')}\n`);
      names.push(`f${i}.py`);
    }
    const old = Date.now() / 1000 - 600;
    for (const n of names) utimesSync(join(a, n), old, old);
    const full = await captureWorkspace(a);
    const v1 = await snapshot(h, makeState('incr', full));
    expect(v1.newBlobs).toBe(40);
    const blobsBefore = (await store.stats()).blobs;

    writeFileSync(join(a, 'f7.py'), 'changed = True\n');
    const d = await diffWorkspace(stripContent(full), a);
    expect(d.files.filter((f) => f.content)).toHaveLength(1);
    const v2 = await snapshot(h, makeState('incr', d.files), { baseVersion: v1.version });
    expect(v2).toMatchObject({ version: 2, newBlobs: 1 });
    expect(v2.storedBytes).toBeLessThan(v1.storedBytes / 4); // one tiny blob + the manifest and hash list
    expect((await store.stats()).blobs).toBe(blobsBefore + 1);

    const back = await restore(h, 'incr');
    expect(back.version).toBe(2);
    expect(back.state?.files.filter((f) => f.type === 'file')).toHaveLength(40);
    expect(back.state?.files.find((f) => f.path === 'f7.py')?.content?.toString()).toBe('changed = True\n');
    expect(back.state?.files.find((f) => f.path === 'f8.py')?.content?.toString()).toContain('# file 8');
  });

  it('stores blobs sent in stored format (fileBlobs) as they are, without recompressing', async () => {
    const text = Buffer.from('print("sent as a blob")\n'.repeat(300));
    const sent = compressBlob(text, { level: 9 }); // a level the service itself does not use (BLOB_BROTLI_QUALITY 1)
    const res = await snapshot(
      h,
      makeState('as-blobs', [file('a.py', text), file('b.bin', randomBytes(1000))]),
      { fileBlobs: { level: 9 } },
    );
    expect(res.newBlobs).toBe(2);
    expect((await h.cmd.getBuffer(store.keys.blob(sent.hash)))?.equals(sent.data)).toBe(true);
    const back = await restore(h, 'as-blobs');
    expect(back.state?.files.find((f) => f.path === 'a.py')?.content?.equals(text)).toBe(true);
    // The same content sent packed is not uploaded again (content addressing).
    expect((await snapshot(h, makeState('as-blobs-2', [file('x.py', text)]))).newBlobs).toBe(0);
  });

  it('stores and restores an empty workspace (env, history and packages only)', async () => {
    const res = await snapshot(h, makeState('empty-ws', [], { env: { ONLY: 'env' } }));
    expect(res).toMatchObject({ version: 1, newBlobs: 0, bytes: 0 });
    const back = await restore(h, 'empty-ws');
    expect(back.state).toMatchObject({
      files: [],
      env: { ONLY: 'env' },
      packages: [{ manager: 'pip', name: 'requests', version: '2.32.0' }],
    });
  });

  it('shares blobs between two sessions with identical files', async () => {
    const files = [
      file('same/a.txt', 'shared content A\n'.repeat(100)),
      file('same/b.txt', 'shared content B\n'.repeat(100)),
    ];
    const s1 = await snapshot(h, makeState('share-1', files));
    const before = await store.stats();
    const s2 = await snapshot(h, makeState('share-2', files));
    expect(s1.newBlobs).toBe(2);
    expect(s2.newBlobs).toBe(0);
    const after = await store.stats();
    expect(after.blobs).toBe(before.blobs);
    expect(after.logicalBytes - before.logicalBytes).toBe(s2.bytes);
    expect(after.physicalBytes - before.physicalBytes).toBe(s2.storedBytes); // only the manifest
  });

  it.each([
    ['persist: false', () => makeState('np', [file('a', 'x')], { persist: false }), /persist: false/],
    [
      'a full snapshot with a file lacking content',
      () => {
        const { content: _c, ...bare } = file('lonely.txt', 'x');
        return makeState('bare', [bare]);
      },
      /"lonely.txt" has no content/,
    ],
    ['a hostile path', () => makeState('hostile', [file('../escape.txt', 'x')]), /escape.txt.*'\.\.'/],
  ])('rejects %s as invalid_argument', async (_label, make, message) => {
    const err = await snapshot(h, make()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobCallError);
    expect(err).toMatchObject({ code: 'invalid_argument' });
    expect((err as Error).message).toMatch(message);
  });

  it('rejects a delta whose content-less file is not in the base version, naming the path', async () => {
    await snapshot(h, makeState('delta-bad', [file('a.txt', 'one')]));
    const { content: _c, ...unknown } = file('ghost.txt', 'never stored');
    const err = await snapshot(h, makeState('delta-bad', [unknown]), { baseVersion: 1 }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'invalid_argument' });
    expect((err as Error).message).toMatch(
      /"ghost.txt" has no content and its hash is not in base version 1/,
    );
    const missingBase = await snapshot(h, makeState('delta-bad', [unknown]), { baseVersion: 9 }).catch(
      (e: unknown) => e,
    );
    expect((missingBase as Error).message).toMatch(/base version 9 is not stored/);
    const { content: _a, ...known } = file('a.txt', 'one');
    const wrongSize = await snapshot(h, makeState('delta-bad', [{ ...known, size: 99 }]), {
      baseVersion: 1,
    }).catch((e: unknown) => e);
    expect(wrongSize).toMatchObject({
      code: 'invalid_argument',
      message: expect.stringMatching(/"a.txt" says 99 bytes but its content has 3/),
    });
    expect(
      (await snapshot(h, makeState('delta-bad', [known, file('b.txt', 'two')]), { baseVersion: 1 })).newBlobs,
    ).toBe(1);
  });

  it('rejects a corrupted encoded state and a state of another session', async () => {
    const buf = Buffer.from(encodeState(makeState('corrupt', [file('a', 'hello world')])));
    buf[buf.length - 2] = (buf[buf.length - 2] as number) ^ 1;
    const ref = await putTransfer(h.cmd, buf, { prefix: h.config.QUEUE_PREFIX });
    const payload = {
      sessionId: 'corrupt',
      tenant: 'acme',
      pool: 'python',
      pod: 'p',
      template: 'python',
      trigger: 'periodic' as const,
      ttlSeconds: 60,
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
      baseVersion: null,
      state: ref,
    };
    await expect(
      h.client.call(QueueNames.snapshot, PersistenceJobDefs.snapshot, payload, { timeoutMs: 10_000 }),
    ).rejects.toMatchObject({ code: 'invalid_argument', message: expect.stringMatching(/corrupted/) });
    const other = await putTransfer(h.cmd, encodeState(makeState('someone-else', [])), {
      prefix: h.config.QUEUE_PREFIX,
    });
    await expect(
      h.client.call(
        QueueNames.snapshot,
        PersistenceJobDefs.snapshot,
        { ...payload, state: other },
        { timeoutMs: 10_000 },
      ),
    ).rejects.toThrow(/state is for someone-else/);
  });

  it('refuses a snapshot over MAX_SNAPSHOT_BYTES and one over the session quota (payload_too_large)', async () => {
    const big = await snapshot(h, makeState('too-big', [file('big.bin', randomBytes(2 * MiB + 1))])).catch(
      (e: unknown) => e,
    );
    expect(big).toMatchObject({
      code: 'payload_too_large',
      message: expect.stringMatching(/MAX_SNAPSHOT_BYTES/),
    });
    expect(await restore(h, 'too-big')).toEqual({ found: false });

    await snapshot(h, makeState('quota', [file('a.bin', randomBytes(2 * MiB - 100))]));
    // v1 is kept (KEEP_VERSIONS 3), so a second, different 2 MB file makes 4 MB > 3 MiB quota.
    const over = await snapshot(h, makeState('quota', [file('b.bin', randomBytes(2 * MiB - 100))])).catch(
      (e: unknown) => e,
    );
    expect(over).toMatchObject({
      code: 'payload_too_large',
      message: expect.stringMatching(/SESSION_QUOTA_BYTES/),
    });
    expect((await restore(h, 'quota')).version).toBe(1);
  });
});
