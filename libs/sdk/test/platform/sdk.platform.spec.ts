// Every SDK method against the real platform: redis-server, persistence, the load balancer and a
// python executor process, started from dist/apps by the test.
import {
  AbortError,
  ExecutorClient,
  InvalidArgumentError,
  NotFoundError,
  PayloadTooLargeError,
  TimeoutError,
  type RetryEvent,
  type Session,
} from '../../src';
import { offlinePipEnv, startPlatform, type TestPlatform } from './support';

describe('SDK against the real platform', () => {
  let p: TestPlatform;
  let client: ExecutorClient;
  let session: Session;

  beforeAll(async () => {
    p = await startPlatform([{ name: 'python', template: 'python', replicas: 1 }], {
      env: {
        loadBalancer: { JOB_TIMEOUT_GRACE_MS: '2000' },
        executor: offlinePipEnv(),
      },
    });
    client = new ExecutorClient({ baseUrl: p.url, apiKey: p.key });
    session = await client.createSession({
      template: 'python',
      ttlSeconds: 600,
      env: { MODE: 'test' },
      metadata: { user: 'ana' },
    });
  });
  afterAll(async () => {
    await session?.close().catch(() => undefined);
    await p?.stop();
  });

  it('createSession answers the API.md session object', () => {
    expect(session.info).toMatchObject({
      id: expect.any(String),
      template: 'python',
      pool: 'python',
      pod: expect.stringMatching(/^python-/),
      persist: true,
      status: 'active',
      env: { MODE: 'test' },
      metadata: { user: 'ana' },
    });
    expect(Date.parse(session.info.expiresAt)).toBeGreaterThan(Date.parse(session.info.createdAt));
  });

  it('execute: stdout, stderr, exit codes, env, and state kept between executions', async () => {
    const first = await session.execute('import os\nx = 41\nprint("mode", os.environ.get("MODE"))');
    expect(first).toMatchObject({ exitCode: 0, stdout: 'mode test\n', timedOut: false, truncated: false });
    expect(typeof first.id).toBe('string');
    expect(typeof first.durationMs).toBe('number');
    expect((await session.execute('print(x + 1)')).stdout).toBe('42\n');
    const failed = await session.execute('import sys\nprint("oops", file=sys.stderr)\nsys.exit(3)');
    expect(failed).toMatchObject({ exitCode: 3, stderr: expect.stringContaining('oops') });
    const perCall = await session.execute('import os\nprint(os.environ.get("ONLY_HERE"))', {
      env: { ONLY_HERE: 'yes' },
    });
    expect(perCall.stdout).toBe('yes\n');
  });

  it('execute: a timeout is a result (timedOut) and the session stays usable', async () => {
    const slow = await session.execute('import time\ntime.sleep(30)', { timeoutMs: 1000 });
    expect(slow.timedOut).toBe(true);
    expect((await session.execute('print("alive")')).stdout).toBe('alive\n');
  });

  it('executions(): the history, oldest first', async () => {
    const items = await session.executions();
    expect(items.length).toBeGreaterThanOrEqual(5);
    expect(items[0]).toMatchObject({ code: expect.stringContaining('x = 41'), exitCode: 0 });
    expect(items.some((e) => e.exitCode === 3)).toBe(true);
  });

  it('files: binary-safe write/read, list, visible to the code, remove', async () => {
    const bytes = new Uint8Array(70_000).map((_, i) => (i * 131 + 17) % 256);
    await session.files.write('data/in.bin', bytes);
    expect(Buffer.from(await session.files.read('data/in.bin')).equals(Buffer.from(bytes))).toBe(true);
    const check = await session.execute(
      'd = open("data/in.bin", "rb").read()\nprint(len(d), d[0], d[-1])\n_ = open("out.txt", "w").write("from python ✓")',
    );
    expect(check.stdout).toBe(`70000 ${bytes[0]} ${bytes[69_999]}\n`);
    expect(await session.files.readText('out.txt')).toBe('from python ✓');
    const list = await session.files.list();
    expect(list).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'data/in.bin', size: 70_000, modifiedAt: expect.any(String) }),
      ]),
    );
    await session.files.remove('data/in.bin');
    await expect(session.files.read('data/in.bin')).rejects.toBeInstanceOf(NotFoundError);
    await expect(session.files.read('never-there.txt')).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
    });
  });

  it('files: a symlink out of the workspace → InvalidArgumentError (400)', async () => {
    await session.execute('import os\nos.symlink("/etc/passwd", "link-out")');
    await expect(session.files.read('link-out')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('packages.list(): an array (nothing installed yet)', async () => {
    expect(await session.packages.list()).toEqual([]);
  });

  it('packages.install() then list(): the package is importable', async () => {
    const installed = await session.packages.install(['sdktoy==1.0.0']);
    expect(installed).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: expect.stringMatching(/^sdktoy$/i), version: '1.0.0' }),
      ]),
    );
    const list = await session.packages.list();
    expect(list).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          manager: 'pip',
          name: expect.stringMatching(/^sdktoy$/i),
          version: '1.0.0',
        }),
      ]),
    );
    expect((await session.execute('import sdktoy\nprint(sdktoy.VALUE)')).stdout).toBe('1.0.0\n');
  });

  it('persist(), refresh() (lastSnapshotAt, migrations), extend()', async () => {
    const snap = await session.persist();
    expect(snap).toMatchObject({
      version: expect.any(Number),
      bytes: expect.any(Number),
      at: expect.any(String),
    });
    expect(snap.bytes).toBeGreaterThan(0);
    const info = await session.refresh();
    expect(info.lastSnapshotAt).toEqual(expect.any(String));
    expect(Array.isArray(info.migrations)).toBe(true);
    const before = Date.parse(info.expiresAt);
    const extended = await session.extend(7200);
    expect(Date.parse(extended.expiresAt)).toBeGreaterThan(before);
    expect(session.info.expiresAt).toBe(extended.expiresAt);
  });

  it('getSession(), listSessions(); another tenant gets NotFoundError', async () => {
    expect((await client.getSession(session.id)).info.id).toBe(session.id);
    expect((await client.listSessions()).map((s) => s.id)).toContain(session.id);
    const other = new ExecutorClient({ baseUrl: p.url, apiKey: p.otherKey });
    await expect(other.getSession(session.id)).rejects.toBeInstanceOf(NotFoundError);
    expect((await other.listSessions()).map((s) => s.id)).not.toContain(session.id);
  });

  it('code over 1 MiB → PayloadTooLargeError (413), not retried', async () => {
    const retries: unknown[] = [];
    const c = new ExecutorClient({ baseUrl: p.url, apiKey: p.key, onRetry: (e) => retries.push(e) });
    const s = await c.getSession(session.id);
    const err = await s.execute(`# ${'x'.repeat(1024 * 1024 + 10)}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadTooLargeError);
    expect(err).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(retries).toEqual([]);
  });

  it('abort: an in-flight execution rejects with AbortError; the session stays usable', async () => {
    const ctrl = new AbortController();
    const pending = session.execute('import time\ntime.sleep(3)\nprint("done")', { signal: ctrl.signal });
    setTimeout(() => ctrl.abort(), 200);
    await expect(pending).rejects.toBeInstanceOf(AbortError);
    expect((await session.execute('print("still here")', { timeoutMs: 20_000 })).stdout).toBe('still here\n');
  });

  it('`await using` closes the session; close() then getSession → NotFoundError', async () => {
    let id = '';
    {
      await using s = await client.createSession({ template: 'python', persist: false });
      id = s.id;
      expect((await s.execute('print(1)')).stdout).toBe('1\n');
    }
    await expect(client.getSession(id)).rejects.toBeInstanceOf(NotFoundError);
    const s2 = await client.createSession({ template: 'python', persist: false });
    await s2.close();
    await expect(client.getSession(s2.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('an unresponsive pod → TimeoutError (504); an execution POST is not retried', async () => {
    // SIGSTOP the executor: the job is never answered, the load balancer gives up after
    // timeoutMs + JOB_TIMEOUT_GRACE_MS (2 s here) and answers 504.
    const pod = p.platform.executors('python')[0];
    if (!pod) throw new Error('no python executor');
    const retries: RetryEvent[] = [];
    const c = new ExecutorClient({
      baseUrl: p.url,
      apiKey: p.key,
      retries: 3,
      onRetry: (e) => retries.push(e),
    });
    const s = await c.getSession(session.id);
    process.kill(pod.pid, 'SIGSTOP');
    try {
      const err = await s.execute('print(1)', { timeoutMs: 1000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TimeoutError);
      expect(err).toMatchObject({ status: 504, code: 'timeout' });
      expect(retries).toEqual([]);
    } finally {
      process.kill(pod.pid, 'SIGCONT');
    }
  });
});
