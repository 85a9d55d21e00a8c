import { JobCallError, PodJobDefs } from '@executor/queues';
import { PodDriver, startHarness, type Harness } from './harness';

const MiB = 1024 * 1024;

async function callError(p: Promise<unknown>): Promise<JobCallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JobCallError);
  return err as JobCallError;
}

describe('python kernel through the pod queue', () => {
  let h: Harness;
  let pod: PodDriver;

  beforeAll(async () => {
    h = await startHarness();
    pod = await PodDriver.start(h, 'python', { MAX_OUTPUT_BYTES: String(64 * 1024) });
  });
  afterAll(async () => {
    await pod?.stop();
    await h?.stop();
  });

  it('keeps state across executions and reports errors with tracebacks (output of children included)', async () => {
    const { id, result } = await pod.open();
    expect(result).toEqual({ pod: pod.cfg.POD_NAME, restored: false });
    const r1 = await pod.exec(id, 'import math\nx = 40\ndef f(v):\n    return v + 2\nprint("hello")');
    expect(r1).toMatchObject({
      exitCode: 0,
      stdout: 'hello\n',
      stderr: '',
      timedOut: false,
      truncated: false,
    });
    const r2 = await pod.exec(id, 'f(x)');
    expect(r2.stdout).toBe('42\n');
    const r3 = await pod.exec(id, 'import os\nos.system("echo from-child")\nos.write(2, b"raw\\n")\n1/0');
    expect(r3.exitCode).toBe(1);
    expect(r3.stdout).toContain('from-child');
    expect(r3.stderr).toContain('raw');
    expect(r3.stderr).toMatch(/Traceback[\s\S]*ZeroDivisionError/);
    const r4 = await pod.exec(id, 'print(math.pi > 3, x)');
    expect(r4.stdout).toBe('True 40\n');
    const r5 = await pod.exec(id, 'import sys\nsys.exit(7)');
    expect(r5.exitCode).toBe(7);
    expect((await pod.exec(id, 'print(x)')).stdout).toBe('40\n');
  });

  it('times out an infinite loop within timeout + 1 s, keeps the kernel when it can interrupt, and the next execution works', async () => {
    const { id } = await pod.open();
    await pod.exec(id, 'kept = "yes"');
    const t0 = Date.now();
    const r = await pod.exec(id, 'while True:\n    pass', 500);
    expect(Date.now() - t0).toBeLessThan(1500 + 1000); // queue round trip + slack on a loaded machine
    expect(r).toMatchObject({ timedOut: true, exitCode: 124 });
    expect(r.durationMs).toBeLessThan(1500);
    expect((await pod.exec(id, 'print(kept)')).stdout).toBe('yes\n');
  });

  it('kills a kernel blocked in a child process at the timeout and restarts it; the session stays usable', async () => {
    const { id } = await pod.open();
    const r = await pod.exec(id, 'import os\nos.system("sleep 30")', 300);
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBe(124);
    expect(r.durationMs).toBeLessThan(1300);
    expect(r.stderr).toMatch(/restarted/);
    const next = await pod.exec(id, 'print("alive")');
    expect(next).toMatchObject({ exitCode: 0, stdout: 'alive\n' });
  });

  it('cuts an output flood at MAX_OUTPUT_BYTES per stream with truncated: true', async () => {
    const { id } = await pod.open();
    const r = await pod.exec(
      id,
      'import sys\nfor i in range(20000):\n    sys.stdout.write("x" * 100)\nsys.stderr.write("e" * 10)\nprint("end")',
    );
    expect(r.exitCode).toBe(0);
    expect(r.truncated).toBe(true);
    expect(Buffer.byteLength(r.stdout)).toBe(64 * 1024);
    expect(r.stderr).toBe('e'.repeat(10));
    expect(await pod.exec(id, 'print("small")')).toMatchObject({ stdout: 'small\n', truncated: false });
  });

  it('refuses code over MAX_CODE_BYTES (payload_too_large), a malformed payload (invalid_argument) and unknown sessions (session_not_on_pod)', async () => {
    const { id } = await pod.open();
    const big = await callError(pod.exec(id, '#'.repeat(MiB + 1)));
    expect(big.code).toBe('payload_too_large');
    const bad = await callError(
      h.client.call(pod.queue, PodJobDefs.execute, { sessionId: id, tenant: 'acme', code: 1 } as never, {
        timeoutMs: 10_000,
      }),
    );
    expect(bad.code).toBe('invalid_argument');
    expect(bad.message).toMatch(/executionId|code/);
    const missing = await callError(pod.exec('no-such-session', 'print(1)'));
    expect(missing.code).toBe('session_not_on_pod');
    expect((await pod.close(id)).closed).toBe(true);
    expect((await callError(pod.exec(id, 'print(1)'))).code).toBe('session_not_on_pod');
  });

  it('runs one session in arrival order and different sessions in parallel', async () => {
    const { id: a } = await pod.open();
    const { id: b } = await pod.open();
    await pod.exec(a, 'log = []');
    const ordered = await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        pod.exec(a, `import time\ntime.sleep(0.0${5 - i})\nlog.append(${i})\nprint(log)`),
      ),
    );
    expect(ordered[4]?.stdout).toBe('[0, 1, 2, 3, 4]\n');
    // b is not blocked behind a's long execution
    const slow = pod.exec(a, 'import time\ntime.sleep(2)\nprint("slow")');
    const t0 = Date.now();
    const fast = await pod.exec(b, 'print("fast")');
    expect(fast.stdout).toBe('fast\n');
    expect(Date.now() - t0).toBeLessThan(1900);
    expect((await slow).stdout).toBe('slow\n');
  });

  it('is idempotent on session.open and refuses another template', async () => {
    const { id } = await pod.open();
    await pod.exec(id, 'v = 1');
    expect((await pod.open({ sessionId: id })).result.restored).toBe(false);
    expect((await pod.exec(id, 'print(v)')).stdout).toBe('1\n');
    const err = await callError(
      h.client.call(
        pod.queue,
        PodJobDefs.open,
        {
          sessionId: 'x1',
          tenant: 'acme',
          template: 'node',
          pool: 'p',
          persist: false,
          ttlSeconds: 60,
          env: {},
          metadata: {},
          restore: false,
        },
        { timeoutMs: 10_000 },
      ),
    );
    expect(err.code).toBe('invalid_argument');
  });

  it('passes session and execution env to the code', async () => {
    const { id } = await pod.open({ env: { GREETING: 'hi' } });
    const r = await h.client.call(
      pod.queue,
      PodJobDefs.execute,
      {
        sessionId: id,
        tenant: 'acme',
        executionId: 'env1',
        code: 'import os\nprint(os.environ["GREETING"], os.environ["ONE"])',
        timeoutMs: 5000,
        env: { ONE: '1' },
      },
      { timeoutMs: 20_000 },
    );
    expect(r.stdout).toBe('hi 1\n');
  });
});

describe.each(['node', 'typescript'])('%s kernel through the pod queue', (template) => {
  let h: Harness;
  let pod: PodDriver;

  beforeAll(async () => {
    h = await startHarness();
    pod = await PodDriver.start(h, template);
  });
  afterAll(async () => {
    await pod?.stop();
    await h?.stop();
  });

  it('keeps top-level declarations, functions and requires across executions', async () => {
    const { id } = await pod.open();
    const decl =
      template === 'typescript'
        ? 'const base: number = 40;\nfunction add(a: number, b: number): number { return a + b }\nconst os = require("os");'
        : 'const base = 40;\nfunction add(a, b) { return a + b }\nconst os = require("os");';
    expect((await pod.exec(id, decl)).exitCode).toBe(0);
    expect((await pod.exec(id, 'console.log(add(base, 2), typeof os.cpus)')).stdout).toBe('42 function\n');
    const err = await pod.exec(id, 'undefinedFunction()');
    expect(err.exitCode).toBe(1);
    expect(err.stderr).toMatch(/ReferenceError: undefinedFunction is not defined/);
    expect(
      (await pod.exec(id, 'await new Promise((r) => setTimeout(r, 5)); console.log("after await", base)'))
        .stdout,
    ).toBe('after await 40\n');
    expect(
      (await pod.exec(id, 'require("child_process").execSync("echo child", { stdio: "inherit" })')).stdout,
    ).toContain('child\n');
  });

  it('times out a busy loop and an endless await; the next execution works', async () => {
    const { id } = await pod.open();
    await pod.exec(id, 'var kept = "yes"');
    const r = await pod.exec(id, 'while (true) {}', 400);
    expect(r).toMatchObject({ timedOut: true, exitCode: 124 });
    const r2 = await pod.exec(id, 'await new Promise(() => {})', 400);
    expect(r2.timedOut).toBe(true);
    expect((await pod.exec(id, 'console.log(kept)')).stdout).toBe('yes\n');
  });

  if (template === 'typescript') {
    it('reports a syntax error with its position and allows re-declaring a const in a later cell', async () => {
      const { id } = await pod.open();
      const r = await pod.exec(id, 'let q: = ;');
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/cell-\d+\.ts:1:\d+ - error TS\d+/);
      await pod.exec(id, 'const v: number = 1');
      expect((await pod.exec(id, 'const v: string = "two"; console.log(v)')).stdout).toBe('two\n');
    });
  }
});
