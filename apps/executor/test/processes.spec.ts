import { JobCallError, PodJobDefs } from '@executor/queues';
import { PodDriver, startHarness, type Harness } from './harness';
import { call, exec, startProcess } from './e2b-driver';

async function callError(p: Promise<unknown>): Promise<JobCallError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JobCallError);
  return err as JobCallError;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('processes (commands) in the session sandbox', () => {
  let h: Harness;
  let pod: PodDriver;
  let id: string;

  beforeAll(async () => {
    h = await startHarness();
    pod = await PodDriver.start(h, 'code-interpreter-v1', { MAX_COMMANDS: '3' });
    id = (await pod.open({ env: { SESSION_VAR: 'from-session' } })).id;
  });
  afterAll(async () => {
    await pod?.stop();
    await h?.stop();
  });

  it('runs `/bin/bash -l -c` with cwd and env, streams output, ends with the exit code', async () => {
    const p = await startProcess(
      pod,
      id,
      '/bin/bash',
      ['-l', '-c', 'echo "out:$SESSION_VAR:$EXTRA"; echo err >&2; pwd; exit 3'],
      {
        envs: { EXTRA: 'x' },
        cwd: '/tmp',
      },
    );
    expect(p.pid).toBeGreaterThan(1);
    const end = await p.ended;
    expect(end).toEqual({ exitCode: 3, exited: true, status: 'exit status 3' });
    expect(p.stdout()).toBe('out:from-session:x\n/tmp\n');
    expect(p.stderr()).toBe('err\n');
    expect(p.events[0]?.event).toEqual({ t: 'start', pid: p.pid }); // start first, end last
    expect(p.events[p.events.length - 1]?.event.t).toBe('end');
    const ok = await startProcess(pod, id, '/bin/bash', ['-l', '-c', 'true']);
    expect(await ok.ended).toEqual({ exitCode: 0, exited: true, status: 'exit status 0' });
    await Promise.all([p.unsubscribe(), ok.unsubscribe()]);
  });

  it('sees the same files as the kernel (default cwd /home/user)', async () => {
    await exec(pod, id, 'open("from-kernel.txt", "w").write("k")');
    const p = await startProcess(pod, id, '/bin/cat', ['from-kernel.txt']);
    expect(await p.ended).toMatchObject({ exitCode: 0 });
    expect(p.stdout()).toBe('k');
    await p.unsubscribe();
  });

  it('feeds stdin until closeStdin', async () => {
    const p = await startProcess(
      pod,
      id,
      '/bin/bash',
      ['-c', 'while read -r l; do echo "got:$l"; done; echo done'],
      {
        stdin: true,
      },
    );
    await call(pod, PodJobDefs.processInput, id, { pid: p.pid, data: b64('one\n') });
    await p.waitStdout(/got:one\n/);
    await call(pod, PodJobDefs.processInput, id, { pid: p.pid, data: b64('two\n') });
    await p.waitStdout(/got:two\n/);
    await call(pod, PodJobDefs.processCloseStdin, id, { pid: p.pid });
    expect(await p.ended).toMatchObject({ exitCode: 0, exited: true });
    expect(p.stdout()).toBe('got:one\ngot:two\ndone\n');
    // no stdin pipe: input is refused
    const q = await startProcess(pod, id, '/bin/sleep', ['30']);
    expect(
      (await callError(call(pod, PodJobDefs.processInput, id, { pid: q.pid, data: b64('x') }))).code,
    ).toBe('invalid_argument');
    await call(pod, PodJobDefs.processSignal, id, { pid: q.pid, signal: 'SIGKILL' });
    await q.ended;
    await Promise.all([p.unsubscribe(), q.unsubscribe()]);
  });

  it('kills by signal: SIGKILL → `signal: killed`, SIGTERM → `signal: terminated`, exitCode -1', async () => {
    const p = await startProcess(pod, id, '/bin/bash', ['-c', 'echo ready; sleep 60']);
    await p.waitStdout(/ready/);
    await call(pod, PodJobDefs.processSignal, id, { pid: p.pid, signal: 'SIGKILL' });
    expect(await p.ended).toEqual({ exitCode: -1, exited: false, status: 'signal: killed' });
    const t = await startProcess(pod, id, '/usr/bin/python3', [
      '-c',
      'import time; print("ready", flush=True); time.sleep(60)',
    ]);
    await t.waitStdout(/ready\n/);
    await call(pod, PodJobDefs.processSignal, id, { pid: t.pid, signal: 'SIGTERM' });
    expect(await t.ended).toEqual({ exitCode: -1, exited: false, status: 'signal: terminated' });
    // SIGINT reaches the command itself (python turns it into KeyboardInterrupt and exits 130... or handles it)
    const i = await startProcess(pod, id, '/usr/bin/python3', [
      '-c',
      'import time\ntry:\n    print("ready", flush=True); time.sleep(60)\nexcept KeyboardInterrupt:\n    print("interrupted", flush=True)',
    ]);
    await i.waitStdout(/ready\n/); // PYTHONUNBUFFERED: "ready" and "\n" are two writes
    await call(pod, PodJobDefs.processSignal, id, { pid: i.pid, signal: 'SIGINT' });
    expect(await i.ended).toEqual({ exitCode: 0, exited: true, status: 'exit status 0' });
    expect(i.stdout()).toBe('ready\ninterrupted\n');
    await Promise.all([p.unsubscribe(), t.unsubscribe(), i.unsubscribe()]);
  });

  it('lists running commands, keeps an ended one for get (re-attach), selects by tag', async () => {
    const bg = await startProcess(pod, id, '/bin/bash', ['-c', 'echo started; sleep 60'], { tag: 'server' });
    const fg = await startProcess(pod, id, '/bin/bash', ['-c', 'exit 5'], { tag: 'short' });
    await bg.waitStdout(/started/);
    await fg.ended;
    const list = await call(pod, PodJobDefs.processList, id, {});
    expect(list.items).toEqual([
      {
        pid: bg.pid,
        procId: bg.procId,
        tag: 'server',
        cmd: '/bin/bash',
        args: ['-c', 'echo started; sleep 60'],
        envs: {},
        cwd: '/home/user',
      },
    ]);
    expect(await call(pod, PodJobDefs.processGet, id, { tag: 'server' })).toMatchObject({ pid: bg.pid });
    expect(await call(pod, PodJobDefs.processGet, id, { pid: fg.pid })).toMatchObject({
      pid: fg.pid,
      tag: 'short',
      ended: { exitCode: 5, exited: true, status: 'exit status 5' },
    });
    expect((await callError(call(pod, PodJobDefs.processGet, id, { pid: 999_999 }))).code).toBe('not_found');
    expect(
      (await callError(call(pod, PodJobDefs.processSignal, id, { pid: fg.pid, signal: 'SIGKILL' }))).code,
    ).toBe('not_found'); // ended: nothing to signal
    expect((await callError(call(pod, PodJobDefs.processGet, id, {}))).code).toBe('invalid_argument');
    await call(pod, PodJobDefs.processSignal, id, { tag: 'server', signal: 'SIGKILL' });
    expect(await bg.ended).toMatchObject({ status: 'signal: killed' });
    expect((await call(pod, PodJobDefs.processList, id, {})).items).toEqual([]);
    await Promise.all([bg.unsubscribe(), fg.unsubscribe()]);
  });

  it('kills a command at its timeout; caps commands per session; a command does not disturb the kernel', async () => {
    await exec(pod, id, 'kernel_state = 1');
    const slow = await startProcess(pod, id, '/bin/sleep', ['60'], { timeoutMs: 300 });
    expect(await slow.ended).toEqual({
      exitCode: -1,
      exited: false,
      status: 'signal: killed',
      error: 'timed out after 300 ms',
    });
    const running = await Promise.all([1, 2, 3].map(() => startProcess(pod, id, '/bin/sleep', ['60'])));
    expect((await callError(startProcess(pod, id, '/bin/true', []))).code).toBe('rate_limited');
    for (const r of running) await call(pod, PodJobDefs.processSignal, id, { pid: r.pid, signal: 'SIGKILL' });
    await Promise.all(running.map((r) => r.ended));
    expect((await exec(pod, id, 'kernel_state')).results?.[0]?.['text/plain']).toBe('1'); // kernel untouched
    await Promise.all([slow, ...running].map((r) => r.unsubscribe()));
  });

  it('runs beside a long execution (no session lock) and dies with the session', async () => {
    const { id: other } = await pod.open();
    const long = exec(pod, other, 'import time; time.sleep(2); "slept"');
    const t0 = Date.now();
    const p = await startProcess(pod, other, '/bin/bash', ['-c', 'echo quick; sleep 60']);
    await p.waitStdout(/quick/);
    expect(Date.now() - t0).toBeLessThan(1500); // did not wait for the execution
    expect((await long).results?.[0]?.['text/plain']).toBe("'slept'");
    await pod.close(other);
    expect(await p.ended).toMatchObject({ status: 'signal: killed' });
    expect((await callError(call(pod, PodJobDefs.processList, other, {}))).code).toBe('session_not_on_pod');
    await p.unsubscribe();
  });

  it('refuses a cwd outside the sandbox and a reused procId', async () => {
    expect((await callError(startProcess(pod, id, '/bin/true', [], { cwd: '/etc' }))).code).toBe(
      'invalid_argument',
    );
    const p = await startProcess(pod, id, '/bin/true', []);
    await p.ended;
    const again = await callError(
      call(pod, PodJobDefs.processStart, id, {
        procId: p.procId,
        cmd: '/bin/true',
        args: [],
        envs: {},
        stdin: false,
      }),
    );
    expect(again.code).toBe('conflict');
    await p.unsubscribe();
  });
});
