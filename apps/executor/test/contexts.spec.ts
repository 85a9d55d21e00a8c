import { JobCallError, PodJobDefs } from '@executor/queues';
import { PodDriver, startHarness, type Harness } from './harness';
import { call, exec, execStream } from './e2b-driver';

async function callError(p: Promise<unknown>): Promise<JobCallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JobCallError);
  return err as JobCallError;
}

describe('contexts: several independent kernels in one session (code-interpreter-v1)', () => {
  let h: Harness;
  let pod: PodDriver;

  beforeAll(async () => {
    h = await startHarness();
    pod = await PodDriver.start(h, 'code-interpreter-v1', { MAX_CONTEXTS: '4' });
  });
  afterAll(async () => {
    await pod?.stop();
    await h?.stop();
  });

  it('creates, lists, restarts and removes contexts; each has its own state', async () => {
    const { id } = await pod.open();
    expect(await call(pod, PodJobDefs.contextList, id, {})).toEqual({
      items: [{ id: 'default', language: 'python', cwd: '/home/user' }],
    });
    const a = await call(pod, PodJobDefs.contextCreate, id, { language: 'python3' });
    const b = await call(pod, PodJobDefs.contextCreate, id, { language: 'python', cwd: '/tmp' });
    expect(a).toMatchObject({ language: 'python', cwd: '/home/user' });
    expect(b).toMatchObject({ language: 'python', cwd: '/tmp' });
    await exec(pod, id, 'v = "default"');
    await exec(pod, id, 'v = "a"', { context: a.id });
    const rb = await exec(pod, id, 'v', { context: b.id });
    expect(rb.error?.name).toBe('NameError'); // independent: b never saw v
    expect(rb.context).toBe(b.id);
    expect((await exec(pod, id, 'v', { context: a.id })).results?.[0]?.['text/plain']).toBe("'a'");
    expect((await exec(pod, id, 'v')).results?.[0]?.['text/plain']).toBe("'default'");
    // each context is its own kernel, in the same sandbox (same files)
    await exec(pod, id, 'open("shared.txt", "w").write("from a")', { context: a.id });
    expect(
      (await exec(pod, id, 'open("shared.txt").read()', { context: 'default' })).results?.[0]?.['text/plain'],
    ).toBe("'from a'");
    // the cwd of b is the private tmp
    expect(
      (await exec(pod, id, 'import os; os.path.basename(os.getcwd())', { context: b.id })).results?.[0]?.[
        'text/plain'
      ],
    ).toBe("'tmp'");
    expect((await call(pod, PodJobDefs.contextList, id, {})).items.map((c) => c.id)).toEqual([
      'default',
      a.id,
      b.id,
    ]);

    await call(pod, PodJobDefs.contextRestart, id, { context: a.id });
    expect((await exec(pod, id, 'v', { context: a.id })).error?.name).toBe('NameError'); // variables gone
    expect((await exec(pod, id, 'v')).results?.[0]?.['text/plain']).toBe("'default'"); // others untouched

    await call(pod, PodJobDefs.contextRemove, id, { context: b.id });
    expect((await callError(exec(pod, id, '1', { context: b.id }))).code).toBe('not_found');
    expect((await callError(call(pod, PodJobDefs.contextRemove, id, { context: 'default' }))).code).toBe(
      'invalid_argument',
    );
    expect((await callError(call(pod, PodJobDefs.contextRestart, id, { context: 'nope' }))).code).toBe(
      'not_found',
    );
    await pod.close(id);
  });

  it('runs javascript, typescript and bash by language (their default contexts, created on first use)', async () => {
    const { id } = await pod.open();
    const js1 = await exec(pod, id, 'var n = 41; n + 1', { language: 'js' });
    expect(js1).toMatchObject({
      exitCode: 0,
      context: 'default-javascript',
      results: [{ isMain: true, 'text/plain': '42' }],
    });
    expect((await exec(pod, id, 'n', { language: 'javascript' })).results?.[0]?.['text/plain']).toBe('41');
    // top-level await: the last expression is still the result
    const awaited = await exec(pod, id, 'const v = await Promise.resolve(20); v * 2', { language: 'js' });
    expect(awaited.results).toEqual([{ isMain: true, 'text/plain': '40' }]);
    const jsErr = await exec(pod, id, 'throw new RangeError("out")', { language: 'javascript' });
    expect(jsErr.error).toMatchObject({ name: 'RangeError', value: 'out' });
    expect(jsErr.error?.traceback).toMatch(/RangeError: out/);
    const ts = await exec(pod, id, 'const s: string = "typed"; s.length', { language: 'ts' });
    expect(ts).toMatchObject({
      context: 'default-typescript',
      results: [{ isMain: true, 'text/plain': '5' }],
    });
    const sh = await exec(pod, id, 'X=7; echo "x=$X"', { language: 'bash' });
    expect(sh).toMatchObject({ exitCode: 0, stdout: 'x=7\n', context: 'default-bash' });
    expect((await exec(pod, id, 'echo $X', { language: 'bash' })).stdout).toBe('7\n');
    expect((await exec(pod, id, 'print(1)')).context).toBe('default'); // python is the default
    expect((await call(pod, PodJobDefs.contextList, id, {})).items.map((c) => [c.id, c.language])).toEqual([
      ['default', 'python'],
      ['default-javascript', 'javascript'],
      ['default-typescript', 'typescript'],
      ['default-bash', 'bash'],
    ]);
    // the limit counts every context of the session (MAX_CONTEXTS=4 here)
    expect((await callError(call(pod, PodJobDefs.contextCreate, id, { language: 'python' }))).code).toBe(
      'rate_limited',
    );
    // a context and a language that disagree, a language the template has no kernel for
    expect((await callError(exec(pod, id, '1', { context: 'default', language: 'bash' }))).code).toBe(
      'invalid_argument',
    );
    expect((await callError(exec(pod, id, '1', { language: 'r' }))).code).toBe('invalid_argument');
    expect((await callError(call(pod, PodJobDefs.contextCreate, id, { language: 'cobol' }))).code).toBe(
      'invalid_argument',
    );
    await pod.close(id);
  });

  it('streams output of a non-default context too', async () => {
    const { id } = await pod.open();
    const { events, result } = await execStream(pod, id, 'console.log("a"); console.error("b"); 3', {
      language: 'js',
    });
    expect(events.map((e) => e.event.t)).toEqual(expect.arrayContaining(['stdout', 'stderr', 'result']));
    expect(result.stdout).toBe('a\n3\n');
    await pod.close(id);
  });

  it('refuses a cwd outside the sandbox or missing', async () => {
    const { id } = await pod.open();
    expect(
      (await callError(call(pod, PodJobDefs.contextCreate, id, { language: 'python', cwd: '/etc' }))).code,
    ).toBe('invalid_argument');
    expect(
      (await callError(call(pod, PodJobDefs.contextCreate, id, { language: 'python', cwd: 'missing' }))).code,
    ).toBe('invalid_argument');
    expect(
      (await callError(call(pod, PodJobDefs.contextCreate, id, { language: 'python', cwd: '../x' }))).code,
    ).toBe('invalid_argument');
    await pod.close(id);
  });
});

describe('stateful bash kernel (base template: bash default, python context)', () => {
  let h: Harness;
  let pod: PodDriver;

  beforeAll(async () => {
    h = await startHarness();
    pod = await PodDriver.start(h, 'base');
  });
  afterAll(async () => {
    await pod?.stop();
    await h?.stop();
  });

  it('keeps variables, functions, options and the working directory between executions', async () => {
    const { id } = await pod.open();
    const r1 = await exec(
      pod,
      id,
      'COUNT=1\ngreet() { echo "hi $1"; }\nmkdir -p sub && cd sub\nshopt -s nullglob\necho started',
    );
    expect(r1).toMatchObject({
      exitCode: 0,
      stdout: 'started\n',
      context: 'default',
      executionCount: expect.any(Number),
    });
    const r2 = await exec(
      pod,
      id,
      'COUNT=$((COUNT+1)); greet you; echo "$COUNT"; basename "$PWD"; shopt -q nullglob && echo on',
    );
    expect(r2.stdout).toBe('hi you\n2\nsub\non\n');
    expect(r2.executionCount).toBe((r1.executionCount as number) + 1);
    const r3 = await exec(pod, id, 'echo err >&2; false');
    expect(r3).toMatchObject({ exitCode: 1, stderr: 'err\n' });
    // stdin is /dev/null: a cell reading it cannot eat the kernel's commands
    expect((await exec(pod, id, 'read -r line; echo "[$line]"')).stdout).toBe('[]\n');
    // env of one execution only
    expect((await exec(pod, id, 'echo "$ONLY"', { env: { ONLY: 'once' } })).stdout).toBe('once\n');
    expect((await exec(pod, id, 'echo "${ONLY-unset}"')).stdout).toBe('unset\n');
    expect((await exec(pod, id, 'echo $COUNT')).stdout).toBe('2\n');
    await pod.close(id);
  });

  it('interrupts a timed-out cell and keeps the state; `exit` restarts the kernel and says so', async () => {
    const { id } = await pod.open();
    await exec(pod, id, 'KEEP=yes');
    const loop = await exec(pod, id, 'while true; do :; done', { timeoutMs: 400 });
    expect(loop).toMatchObject({ timedOut: true, exitCode: 124 });
    const sleeper = await exec(pod, id, 'sleep 30; echo never', { timeoutMs: 400 });
    expect(sleeper).toMatchObject({ timedOut: true, exitCode: 124 });
    expect(sleeper.stdout).not.toContain('never');
    expect((await exec(pod, id, 'echo $KEEP')).stdout).toBe('yes\n');
    const bye = await exec(pod, id, 'echo bye; exit 3');
    expect(bye).toMatchObject({ exitCode: 3, stdout: 'bye\n' });
    expect(bye.stderr).toMatch(/bash exited \(status 3\); the bash kernel was restarted/);
    expect((await exec(pod, id, 'echo "${KEEP-gone}"')).stdout).toBe('gone\n');
    await pod.close(id);
  });

  it('runs python as a second context of the base template', async () => {
    const { id } = await pod.open();
    const py = await exec(pod, id, 'import sys; sys.version_info[0]', { language: 'python' });
    expect(py).toMatchObject({ context: 'default-python', results: [{ isMain: true, 'text/plain': '3' }] });
    expect((await callError(exec(pod, id, '1', { language: 'javascript' }))).code).toBe('invalid_argument');
    await pod.close(id);
  });
});
