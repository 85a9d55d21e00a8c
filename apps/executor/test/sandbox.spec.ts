import { spawnSync } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { PodDriver, startHarness, type Harness } from './harness';

/**
 * bwrap must work here (root, or unprivileged user namespaces): when it cannot run, this suite
 * fails with bwrap's own error — it is never skipped.
 */
function bwrapProbe(): { ok: boolean; detail: string } {
  const r = spawnSync(
    '/usr/bin/bwrap',
    ['--ro-bind', '/', '/', '--unshare-all', '--die-with-parent', '/bin/true'],
    { encoding: 'utf8' },
  );
  return {
    ok: r.status === 0,
    detail: r.error ? r.error.message : `exit ${r.status}: ${(r.stderr ?? '').trim()}`,
  };
}

describe('SANDBOX=bwrap isolation', () => {
  let h: Harness;
  let pod: PodDriver;
  let server: Server;
  let port: number;
  const SECRET = `s3cr3t-${process.pid}`;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    const probe = bwrapProbe();
    if (!probe.ok) {
      throw new Error(
        `bwrap cannot run on this machine (${probe.detail}): install bubblewrap (apps/executor/scripts/install-runtimes.sh) and run as root or with user namespaces enabled`,
      );
    }
    process.env['EXECUTOR_FAKE_SECRET'] = SECRET; // the executor (this process) holds a secret
    h = await startHarness();
    pod = await PodDriver.start(h, 'python', {
      SANDBOX: 'bwrap',
      MEMORY_LIMIT_MB: '256',
      MAX_PROCESSES: '64',
      MAX_SESSIONS: '20',
    });
    server = createServer((s) => {
      sockets.add(s);
      s.end('hello from the host\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    delete process.env['EXECUTOR_FAKE_SECRET'];
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server?.close(() => r()));
    await pod?.stop();
    await h?.stop();
  });

  it('does not give the session the executor env, nor its /proc environ', async () => {
    const { id } = await pod.open();
    const r = await pod.exec(
      id,
      [
        'import os',
        'print(os.environ.get("EXECUTOR_FAKE_SECRET"))',
        'print(sorted(k for k in os.environ if k.startswith(("REDIS", "EXECUTOR_FAKE", "JEST", "NODE_OPTIONS"))))',
        `try:\n    print(open("/proc/${process.pid}/environ", "rb").read())\nexcept OSError as e:\n    print("refused", type(e).__name__)`,
        'print(sorted(int(p) for p in os.listdir("/proc") if p.isdigit())[:3], os.getuid() != 0)',
      ].join('\n'),
    );
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('None');
    expect(lines[1]).toBe('[]');
    expect(lines[2]).toMatch(/^refused/);
    expect(r.stdout).not.toContain(SECRET);
    expect(lines[3]).toMatch(/^\[1, 2.*True$/); // own pid namespace (pid 1 = bwrap), not root
  });

  it("cannot read another session's files (not mounted; other uid) and only writes its workspace and /tmp", async () => {
    const a = (await pod.open()).id;
    const b = (await pod.open()).id;
    await pod.exec(a, 'open("private.txt", "w").write("a-only")\nimport os\nprint(os.getcwd())');
    const r = await pod.exec(
      b,
      [
        'import os, glob',
        `hits = glob.glob("${pod.cfg.WORKSPACE_ROOT}/**/private.txt", recursive=True) + glob.glob("/tmp/**/private.txt", recursive=True) + glob.glob("/workspace/**/private.txt", recursive=True)`,
        `print("root visible", os.path.exists("${pod.cfg.WORKSPACE_ROOT}"))`,
        'print("hits", hits)',
        'for p in ["/usr/x", "/etc/x", "/x"]:',
        '    try:',
        '        open(p, "w")',
        '        print("wrote", p)',
        '    except OSError as e:',
        '        print("ro", p)',
        'open("/tmp/t", "w").write("ok")',
        'print(os.listdir("/workspace"))',
      ].join('\n'),
      20_000,
    );
    expect(r.stdout).toContain('hits []');
    expect(r.stdout).toContain('root visible False');
    expect(r.stdout).not.toContain('wrote');
    expect(r.stdout).toContain('ro /usr/x');
    expect(r.stdout).not.toContain('a-only');
  });

  it('has no network by default (a loopback server of the host is unreachable); network: true reaches it', async () => {
    const probe = `import socket\ntry:\n    s = socket.create_connection(("127.0.0.1", ${port}), timeout=2)\n    print("connected", s.recv(100))\nexcept OSError as e:\n    print("blocked", type(e).__name__)`;
    const off = (await pod.open()).id;
    expect((await pod.exec(off, probe)).stdout).toMatch(/^blocked/);
    const on = (await pod.open({ network: true })).id;
    expect((await pod.exec(on, probe)).stdout).toContain('connected');
  });

  it('contains a fork bomb (pids limit), reports it, and the session and the executor keep working', async () => {
    const { id } = await pod.open();
    const other = (await pod.open()).id;
    const r = await pod.exec(id, 'import os\nwhile True:\n    os.fork()', 10_000);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/BlockingIOError|Resource temporarily unavailable|TimeoutError|kernel died/);
    expect((await pod.exec(other, 'print("other ok")')).stdout).toBe('other ok\n');
    expect((await pod.exec(id, 'print("still ok")')).stdout).toBe('still ok\n');
  });

  it('contains a memory bomb (memory limit), reports it, and the next execution works', async () => {
    const { id } = await pod.open();
    const r = await pod.exec(
      id,
      'blocks = []\nwhile True:\n    blocks.append(b"x" * (16 * 1024 * 1024))',
      20_000,
    );
    expect(r.exitCode).not.toBe(0);
    expect(r.timedOut).toBe(false);
    expect(r.stderr).toMatch(/out-of-memory|MemoryError/);
    expect((await pod.exec(id, 'print("after oom")')).stdout).toBe('after oom\n');
  });

  it('ends an infinite loop at its timeout', async () => {
    const { id } = await pod.open();
    const r = await pod.exec(id, 'while True: pass', 300);
    expect(r).toMatchObject({ timedOut: true, exitCode: 124 });
    expect(r.durationMs).toBeLessThan(1300);
  });
});

describe('SANDBOX=bwrap one-shot templates', () => {
  let h: Harness;
  let pod: PodDriver;
  beforeAll(async () => {
    const probe = bwrapProbe();
    if (!probe.ok) throw new Error(`bwrap cannot run on this machine (${probe.detail})`);
    h = await startHarness();
    pod = await PodDriver.start(h, 'bash', { SANDBOX: 'bwrap', MAX_PROCESSES: '64' });
  });
  afterAll(async () => {
    await pod?.stop();
    await h?.stop();
  });

  it('contains the classic bash fork bomb and kills what it left behind', async () => {
    const { id } = await pod.open();
    const r = await pod.exec(id, 'bomb() { bomb | bomb & }; bomb; sleep 1; echo done', 5000);
    expect(r.timedOut || r.exitCode !== 0 || r.stdout.includes('done')).toBe(true);
    const next = await pod.exec(id, 'echo alive; ps -e 2>/dev/null | wc -l || true');
    expect(next.stdout).toContain('alive');
  });
});
