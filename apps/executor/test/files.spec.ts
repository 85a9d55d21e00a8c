import { existsSync } from 'node:fs';
import { JobCallError, PodJobDefs } from '@executor/queues';
import { PodDriver, startHarness, type Harness } from './harness';

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(JobCallError);
  return (e as JobCallError).code;
}

describe('files through the pod queue', () => {
  let h: Harness;
  let pod: PodDriver;
  let id: string;

  beforeAll(async () => {
    h = await startHarness();
    pod = await PodDriver.start(h, 'python', { MAX_FILE_BYTES: String(1024 * 1024) });
    id = (await pod.open()).id;
  });
  afterAll(async () => {
    await pod?.stop();
    await h?.stop();
  });

  const list = async (): Promise<Array<{ path: string; size: number; modifiedAt: string }>> =>
    (
      await h.client.call(
        pod.queue,
        PodJobDefs.filesList,
        { sessionId: id, tenant: 'acme' },
        { timeoutMs: 10_000 },
      )
    ).items;
  const del = (path: string) =>
    h.client.call(
      pod.queue,
      PodJobDefs.filesDelete,
      { sessionId: id, tenant: 'acme', path },
      { timeoutMs: 10_000 },
    );

  it('puts (parents created), gets, lists recursively and deletes; the kernel sees the files as its cwd', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 10]);
    expect(await pod.put(id, 'data/raw/blob.bin', bytes)).toEqual({ size: 5 });
    await pod.put(id, 'hello.txt', 'hi there');
    expect(await pod.get(id, 'data/raw/blob.bin')).toEqual(bytes);
    const r = await pod.exec(
      id,
      'print(open("hello.txt").read())\n_ = open("made.txt", "w").write("by kernel")',
    );
    expect(r.stdout).toBe('hi there\n');
    expect((await pod.get(id, 'made.txt')).toString()).toBe('by kernel');
    const items = await list();
    expect(items.map((i) => i.path)).toEqual(['data/raw/blob.bin', 'hello.txt', 'made.txt']);
    expect(items[0]).toMatchObject({ size: 5 });
    expect(Number.isNaN(Date.parse(items[0]?.modifiedAt as string))).toBe(false);
    expect(await del('hello.txt')).toEqual({ deleted: true });
    expect(await code(pod.get(id, 'hello.txt'))).toBe('not_found');
    expect(await code(del('hello.txt'))).toBe('not_found');
    expect(await code(pod.get(id, 'data'))).toBe('not_found');
  });

  const escapes = ['../outside.txt', '/etc/passwd', 'a/../../outside.txt', 'ok/../../../etc/passwd', '..'];

  it.each(escapes)('refuses the escaping path %p on every file operation', async (path) => {
    expect(await code(pod.put(id, path, 'x'))).toBe('invalid_argument');
    expect(await code(pod.get(id, path))).toBe('invalid_argument');
    expect(await code(del(path))).toBe('invalid_argument');
  });

  it('refuses paths that go through a symlink to outside the workspace (made by the session itself)', async () => {
    const r = await pod.exec(
      id,
      'import os\nos.symlink("/etc", "etc-link")\nos.symlink("/nonexistent/x", "dangling")\nos.makedirs("sub", exist_ok=True)\nos.symlink("../made.txt", "sub/inner-link")',
    );
    expect(r.exitCode).toBe(0);
    for (const path of ['etc-link/passwd', 'etc-link', 'dangling', 'etc-link/new.txt']) {
      expect(await code(pod.get(id, path))).toBe('invalid_argument');
      expect(await code(pod.put(id, path, 'x'))).toBe('invalid_argument');
    }
    for (const path of ['etc-link/passwd', 'etc-link/new.txt'])
      expect(await code(del(path))).toBe('invalid_argument');
    // a link that stays inside is followed, for reads and writes
    expect((await pod.get(id, 'sub/inner-link')).toString()).toBe('by kernel');
    await pod.put(id, 'sub/inner-link', 'through the link');
    expect((await pod.get(id, 'made.txt')).toString()).toBe('through the link');
    // deleting a link removes the link itself, never what it points to
    expect(await del('etc-link')).toEqual({ deleted: true });
    expect(await del('dangling')).toEqual({ deleted: true });
    expect(existsSync('/etc/passwd')).toBe(true);
    const after = await pod.exec(id, 'import os\nprint(sorted(os.listdir(".")))');
    expect(after.stdout).not.toMatch(/etc-link|dangling/);
  });

  it('refuses a file over MAX_FILE_BYTES (payload_too_large) and files of sessions it does not hold', async () => {
    expect(await code(pod.put(id, 'big.bin', Buffer.alloc(1024 * 1024 + 1)))).toBe('payload_too_large');
    expect(await code(pod.put('not-here', 'a.txt', 'x'))).toBe('session_not_on_pod');
    expect(await code(pod.get('not-here', 'a.txt'))).toBe('session_not_on_pod');
  });

  it('writes files the session can modify (owned by its uid) and RLIMIT_FSIZE stops huge writes', async () => {
    await pod.put(id, 'editable.txt', 'v1');
    const r = await pod.exec(
      id,
      '_ = open("editable.txt", "a").write("+v2")\nprint(open("editable.txt").read())',
    );
    expect(r.stdout).toBe('v1+v2\n');
    const big = await pod.exec(
      id,
      'f = open("huge.bin", "wb")\nf.write(b"0" * (2 * 1024 * 1024))\nf.close()',
    );
    expect(big.exitCode).not.toBe(0);
    expect(big.stderr).toMatch(/File too large|Errno 27|SIGXFSZ|kernel died/);
  });
});
