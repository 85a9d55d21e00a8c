import { createHash, randomBytes } from 'node:crypto';
import {
  DEFAULT_PIPE_WINDOW_CHUNKS,
  JobCallError,
  PipeError,
  PodJobDefs,
  createPipeRef,
  pipeKeys,
  readPipe,
  writePipe,
  type EntryInfo,
} from '@executor/queues';
import { PodDriver, startHarness, type Harness } from './harness';
import { bytes, call, exec, readFile, startWatch, writeFile } from './e2b-driver';

const MiB = 1024 * 1024;

async function callError(p: Promise<unknown>): Promise<JobCallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JobCallError);
  return err as JobCallError;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('filesystem jobs on sandbox paths (fs.*)', () => {
  let h: Harness;
  let pod: PodDriver;
  let id: string;
  const rootExecutor = process.getuid?.() === 0;

  beforeAll(async () => {
    h = await startHarness();
    pod = await PodDriver.start(h, 'code-interpreter-v1', { MAX_FILE_BYTES: String(12 * MiB) });
    id = (await pod.open()).id;
    await exec(
      pod,
      id,
      [
        'import os',
        'os.makedirs("d/e/f", exist_ok=True)',
        'open("d/a.txt", "w").write("hello")',
        'open("d/e/b.txt", "w").write("bb")',
        'open("d/e/f/c.txt", "w").write("c")',
        'os.symlink("e", "d/link-to-e")',
        'os.symlink("/etc/passwd", "d/link-out")',
        'os.chmod("d/a.txt", 0o640)',
        'open("/tmp/t.txt", "w").write("tmp")',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await pod?.stop();
    await h?.stop();
  });

  it('stats without following symlinks; E2B EntryInfo fields; /tmp and relative paths', async () => {
    const { entry } = await call(pod, PodJobDefs.fsStat, id, { path: '/home/user/d/a.txt' });
    expect(entry).toMatchObject({
      name: 'a.txt',
      type: 'file',
      path: '/home/user/d/a.txt',
      size: 5,
      mode: 0o640,
      permissions: '-rw-r-----',
      owner: 'user',
      group: 'user',
    });
    expect(Date.parse(entry.modifiedTime)).toBeGreaterThan(Date.now() - 600_000);
    const link = (await call(pod, PodJobDefs.fsStat, id, { path: 'd/link-out' })).entry;
    expect(link).toMatchObject({
      type: 'symlink',
      symlinkTarget: '/etc/passwd',
      path: '/home/user/d/link-out',
    });
    expect((await call(pod, PodJobDefs.fsStat, id, { path: '/tmp/t.txt' })).entry).toMatchObject({
      path: '/tmp/t.txt',
      size: 3,
    });
    expect((await call(pod, PodJobDefs.fsStat, id, { path: '/home/user' })).entry).toMatchObject({
      type: 'dir',
      path: '/home/user',
    });
    expect((await callError(call(pod, PodJobDefs.fsStat, id, { path: 'nope' }))).code).toBe('not_found');
    for (const bad of ['/etc/passwd', '../x', 'd/../../x'])
      expect((await callError(call(pod, PodJobDefs.fsStat, id, { path: bad }))).code).toBe(
        'invalid_argument',
      );
  });

  it('lists to a depth, never descending into symlinks', async () => {
    const one = await call(pod, PodJobDefs.fsList, id, { path: '/home/user/d', depth: 1 });
    expect(one.entries.map((e: EntryInfo) => [e.name, e.type])).toEqual([
      ['a.txt', 'file'],
      ['e', 'dir'],
      ['link-out', 'symlink'],
      ['link-to-e', 'symlink'],
    ]);
    const deep = await call(pod, PodJobDefs.fsList, id, { path: 'd', depth: 3 });
    expect(deep.entries.map((e: EntryInfo) => e.path)).toEqual([
      '/home/user/d/a.txt',
      '/home/user/d/e',
      '/home/user/d/e/b.txt',
      '/home/user/d/e/f',
      '/home/user/d/e/f/c.txt',
      '/home/user/d/link-out',
      '/home/user/d/link-to-e',
    ]);
    const two = await call(pod, PodJobDefs.fsList, id, { path: 'd', depth: 2 });
    expect(two.entries.map((e: EntryInfo) => e.path)).not.toContain('/home/user/d/e/f/c.txt');
    expect((await callError(call(pod, PodJobDefs.fsList, id, { path: 'd/a.txt', depth: 1 }))).code).toBe(
      'not_found',
    );
  });

  it('makes directories (parents; existing → created false), moves (also workspace ↔ tmp) and removes', async () => {
    const made = await call(pod, PodJobDefs.fsMkdir, id, { path: '/home/user/m/n/o' });
    expect(made).toMatchObject({
      created: true,
      entry: { type: 'dir', path: '/home/user/m/n/o', owner: 'user' },
    });
    expect((await call(pod, PodJobDefs.fsMkdir, id, { path: 'm/n/o' })).created).toBe(false);
    expect((await callError(call(pod, PodJobDefs.fsMkdir, id, { path: 'd/a.txt' }))).code).toBe('conflict');
    const moved = await call(pod, PodJobDefs.fsMove, id, { source: 'm/n', destination: '/tmp/moved' });
    expect(moved.entry).toMatchObject({ path: '/tmp/moved', type: 'dir' });
    expect(
      (await exec(pod, id, 'import os; os.path.isdir("/tmp/moved/o"), os.path.exists("m/n")')).results?.[0]?.[
        'text/plain'
      ],
    ).toBe('(True, False)');
    await call(pod, PodJobDefs.fsRemove, id, { path: '/tmp/moved' });
    await call(pod, PodJobDefs.fsRemove, id, { path: 'm' });
    expect((await callError(call(pod, PodJobDefs.fsRemove, id, { path: 'm' }))).code).toBe('not_found');
    // removing a symlink removes the link, never what it points to
    await call(pod, PodJobDefs.fsRemove, id, { path: 'd/link-to-e' });
    expect((await call(pod, PodJobDefs.fsStat, id, { path: 'd/e/b.txt' })).entry.size).toBe(2);
    expect((await callError(call(pod, PodJobDefs.fsRemove, id, { path: '/home/user' }))).code).toBe(
      'invalid_argument',
    );
  });

  it('reads and writes text and binary through pipes; writes as the session uid; parents created', async () => {
    const bin = randomBytes(300_000);
    const w = await writeFile(pod, id, '/home/user/up/bin.dat', bytes(bin, 10_000), {
      chunkBytes: 64 * 1024,
    });
    expect(w.entry).toMatchObject({
      path: '/home/user/up/bin.dat',
      size: bin.length,
      owner: 'user',
      type: 'file',
    });
    const r = await readFile(pod, id, 'up/bin.dat');
    expect(r.size).toBe(bin.length);
    expect(sha(r.data)).toBe(sha(bin));
    // the kernel sees the same bytes
    const seen = await exec(
      pod,
      id,
      'import hashlib; hashlib.sha256(open("up/bin.dat","rb").read()).hexdigest()',
    );
    expect(seen.results?.[0]?.['text/plain']).toBe(`'${sha(bin)}'`);
    if (rootExecutor) {
      const uid = await exec(pod, id, 'import os; os.stat("up/bin.dat").st_uid == os.getuid()');
      expect(uid.results?.[0]?.['text/plain']).toBe('True');
    }
    await writeFile(pod, id, 'up/t.txt', bytes(Buffer.from('text ü')));
    expect((await readFile(pod, id, '/home/user/up/t.txt')).data.toString()).toBe('text ü');
    const empty = await writeFile(pod, id, 'up/empty', bytes(Buffer.alloc(0)));
    expect(empty.entry.size).toBe(0);
    expect((await readFile(pod, id, 'up/empty')).data.length).toBe(0);
  });

  it('refuses over MAX_FILE_BYTES (writer told to stop, old file kept), through a link out, and reading a missing file', async () => {
    await writeFile(pod, id, 'big.bin', bytes(Buffer.from('old')));
    const pipe = createPipeRef(h.prefix, 256 * 1024);
    const job = call(pod, PodJobDefs.fsWrite, id, { path: 'big.bin', pipe }).catch((e: unknown) => e);
    // 40 MB offered: far more than the limit plus the window, so the writer is still writing when told to stop.
    async function* endless(): AsyncGenerator<Buffer> {
      const mb = Buffer.alloc(MiB, 7);
      for (let i = 0; i < 40; i++) yield mb;
    }
    const writing = writePipe(h.commands, pipe, endless(), { timeoutMs: 20_000 }).catch((e: unknown) => e);
    const [err, werr] = await Promise.all([job, writing]);
    expect((err as JobCallError).code).toBe('payload_too_large');
    expect(werr).toBeInstanceOf(PipeError);
    expect((werr as PipeError).reason).toBe('cancelled');
    expect((await readFile(pod, id, 'big.bin')).data.toString()).toBe('old');

    const out = await callError(writeFile(pod, id, 'd/link-out', bytes(Buffer.from('x'))));
    expect(out.code).toBe('invalid_argument');
    expect((await readFile(pod, id, 'd/a.txt')).data.toString()).toBe('hello');

    const missing = createPipeRef(h.prefix);
    const reading = (async () => {
      for await (const _c of readPipe(h.commands, missing, { timeoutMs: 10_000 })) return 'data';
      return 'end';
    })().catch((e: unknown) => e);
    expect(
      (await callError(call(pod, PodJobDefs.fsRead, id, { path: 'nope.txt', pipe: missing }))).code,
    ).toBe('not_found');
    const rerr = await reading;
    expect(rerr).toBeInstanceOf(PipeError);
    expect((rerr as PipeError).message).toMatch(/not_found/);
    // a pipe that is not one of this platform's is refused before anything is written
    const foreign = { key: `${h.prefix}:replies:x`, chunkBytes: 4096 };
    expect((await callError(call(pod, PodJobDefs.fsRead, id, { path: 'd/a.txt', pipe: foreign }))).code).toBe(
      'invalid_argument',
    );
  });

  it('streams 10 MB each way without buffering it whole: the pipe never holds more than its window', async () => {
    const data = randomBytes(10 * MiB);
    const chunk = 256 * 1024;
    const probe = h.commands;
    // upload: sample the pipe each time the writer pulls the next piece
    const upPipeLen: number[] = [];
    let upRef = '';
    async function* sampled(): AsyncGenerator<Buffer> {
      for (let off = 0; off < data.length; off += chunk) {
        if (upRef) upPipeLen.push(await probe.llen(upRef));
        yield data.subarray(off, off + chunk);
      }
    }
    const pipe = createPipeRef(h.prefix, chunk);
    upRef = pipeKeys(pipe).data;
    const job = call(pod, PodJobDefs.fsWrite, id, { path: 'ten.bin', pipe });
    await writePipe(probe, pipe, sampled(), { timeoutMs: 20_000 });
    expect((await job).entry.size).toBe(data.length);

    // download: sample the pipe and the Redis memory of the list at every chunk
    const downLen: number[] = [];
    const downMem: number[] = [];
    const r = await readFile(pod, id, 'ten.bin', {
      chunkBytes: chunk,
      onChunk: async (_n, ref) => {
        downLen.push((await probe.llen(pipeKeys(ref).data)) + 1); // + the one in our hand
        downMem.push(Number((await probe.call('MEMORY', 'USAGE', pipeKeys(ref).data)) ?? 0));
      },
    });
    expect(sha(r.data)).toBe(sha(data));
    const peakUp = Math.max(...upPipeLen);
    const peakDown = Math.max(...downLen);
    // eslint-disable-next-line no-console
    console.log(
      `10 MB: pipe peak ${peakUp} chunks up / ${peakDown} down (window ${DEFAULT_PIPE_WINDOW_CHUNKS} × ${chunk / 1024} KiB), ` +
        `Redis list peak ${(Math.max(...downMem) / MiB).toFixed(2)} MiB`,
    );
    expect(peakUp).toBeLessThanOrEqual(DEFAULT_PIPE_WINDOW_CHUNKS);
    expect(peakDown).toBeLessThanOrEqual(DEFAULT_PIPE_WINDOW_CHUNKS);
    // list memory: the window's chunks plus allocator rounding, far below the 10 MB file
    expect(Math.max(...downMem)).toBeLessThan(DEFAULT_PIPE_WINDOW_CHUNKS * chunk * 1.5);
  });
});

describe('fs.watch', () => {
  let h: Harness;
  let pod: PodDriver;

  beforeAll(async () => {
    h = await startHarness();
    pod = await PodDriver.start(h, 'code-interpreter-v1', { MAX_WATCHES: '2' });
  });
  afterAll(async () => {
    await pod?.stop();
    await h?.stop();
  });

  it('reports create, write, chmod, rename and remove (with entries); recursive follows new sub-directories', async () => {
    const { id } = await pod.open();
    await call(pod, PodJobDefs.fsMkdir, id, { path: 'w' });
    const w = await startWatch(pod, id, '/home/user/w', true);
    await exec(pod, id, 'open("w/f.txt", "w").write("1")');
    const created = await w.waitFor((e) => e.t === 'event' && e.name === 'f.txt' && e.type === 'create');
    expect(created).toMatchObject({ entry: { path: '/home/user/w/f.txt', type: 'file' } });
    await exec(pod, id, 'open("w/f.txt", "a").write("2")');
    await w.waitFor((e) => e.t === 'event' && e.name === 'f.txt' && e.type === 'write');
    await exec(pod, id, 'import os; os.chmod("w/f.txt", 0o600)');
    const chmod = await w.waitFor((e) => e.t === 'event' && e.type === 'chmod');
    expect(chmod).toMatchObject({ name: 'f.txt', entry: { mode: 0o600 } });
    await exec(pod, id, 'os.rename("w/f.txt", "w/g.txt")');
    await w.waitFor((e) => e.t === 'event' && e.name === 'f.txt' && e.type === 'rename');
    await w.waitFor((e) => e.t === 'event' && e.name === 'g.txt' && e.type === 'create');
    await exec(pod, id, 'os.makedirs("w/sub/deeper")');
    await w.waitFor((e) => e.t === 'event' && e.name === 'sub' && e.type === 'create');
    await w.waitFor((e) => e.t === 'event' && e.name === 'sub/deeper' && e.type === 'create');
    await exec(pod, id, 'open("w/sub/deeper/x", "w").write("x")');
    await w.waitFor((e) => e.t === 'event' && e.name === 'sub/deeper/x' && e.type === 'create');
    await exec(pod, id, 'os.remove("w/g.txt")');
    const removed = await w.waitFor((e) => e.t === 'event' && e.name === 'g.txt' && e.type === 'remove');
    expect(removed).not.toHaveProperty('entry');
    // a process writing there is seen too (same sandbox)
    await call(pod, PodJobDefs.processStart, id, {
      procId: 'touch',
      cmd: '/bin/bash',
      args: ['-c', 'echo p > w/from-proc'],
      envs: {},
      stdin: false,
    });
    await w.waitFor((e) => e.t === 'event' && e.name === 'from-proc' && e.type === 'create');
    await call(pod, PodJobDefs.fsUnwatch, id, { watchId: w.watchId });
    const n = w.events.length;
    await exec(pod, id, 'open("w/after.txt", "w").write("1")');
    // a second watch sees the new file, the first one (unwatched) never does
    const w2 = await startWatch(pod, id, 'w', false);
    await exec(pod, id, 'open("w/after2.txt", "w").write("1")');
    await w2.waitFor((e) => e.t === 'event' && e.name === 'after2.txt');
    expect(w.events.length).toBe(n);
    // non-recursive: nothing from sub-directories
    await exec(pod, id, 'open("w/sub/deeper/y", "w").write("y")');
    await exec(pod, id, 'open("w/marker", "w").write("m")');
    await w2.waitFor((e) => e.t === 'event' && e.name === 'marker');
    expect(w2.events.some((e) => e.t === 'event' && e.name.includes('/'))).toBe(false);
    await Promise.all([w.off(), w2.off()]);
    await pod.close(id);
  });

  it('refreshes by id, caps watches, refuses missing paths, and ends with the session', async () => {
    const { id } = await pod.open();
    const w = await startWatch(pod, id, '/home/user', false);
    await call(pod, PodJobDefs.fsWatch, id, { watchId: w.watchId, path: '/home/user', recursive: false }); // refresh
    expect(
      (
        await callError(
          call(pod, PodJobDefs.fsWatch, id, { watchId: w.watchId, path: '/tmp', recursive: false }),
        )
      ).code,
    ).toBe('conflict');
    const w2 = await startWatch(pod, id, '/tmp', false);
    expect(
      (
        await callError(
          call(pod, PodJobDefs.fsWatch, id, { watchId: 'third', path: '/tmp', recursive: false }),
        )
      ).code,
    ).toBe('rate_limited');
    expect((await callError(call(pod, PodJobDefs.fsUnwatch, id, { watchId: 'unknown' }))).code).toBe(
      'not_found',
    );
    await call(pod, PodJobDefs.fsUnwatch, id, { watchId: w2.watchId });
    expect(
      (
        await callError(
          call(pod, PodJobDefs.fsWatch, id, { watchId: 'x', path: 'missing', recursive: false }),
        )
      ).code,
    ).toBe('not_found');
    await pod.close(id);
    expect(await w.waitFor((e) => e.t === 'end')).toEqual({ t: 'end', reason: 'the session was closed' });
    await Promise.all([w.off(), w2.off()]);
  });

  it('ends when the watched directory is removed', async () => {
    const { id } = await pod.open();
    await call(pod, PodJobDefs.fsMkdir, id, { path: 'gone' });
    const w = await startWatch(pod, id, 'gone', false);
    await call(pod, PodJobDefs.fsRemove, id, { path: 'gone' });
    expect(await w.waitFor((e) => e.t === 'end')).toEqual({
      t: 'end',
      reason: 'the watched directory was removed',
    });
    await w.off();
    await pod.close(id);
  });
});
