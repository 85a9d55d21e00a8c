import { PodDriver, startHarness, type Harness } from './harness';

describe('python kernel through the pod queue', () => {
  let h: Harness;
  let pod: PodDriver;

  beforeAll(async () => {
    h = await startHarness();
    pod = await PodDriver.start(h, 'python');
  });
  afterAll(async () => {
    await pod?.stop();
    await h?.stop();
  });

  it('keeps state across executions and reports errors with tracebacks', async () => {
    const { id, result } = await pod.open();
    expect(result).toEqual({ pod: pod.cfg.POD_NAME, restored: false });
    const r1 = await pod.exec(id, 'import math\nx = 40\ndef f(v):\n    return v + 2\nprint("hello")');
    expect(r1).toMatchObject({ exitCode: 0, stdout: 'hello\n', stderr: '', timedOut: false, truncated: false });
    const r2 = await pod.exec(id, 'f(x)');
    expect(r2.stdout).toBe('42\n');
    const r3 = await pod.exec(id, 'import os\nos.system("echo from-child")\nos.write(2, b"raw\\n")\n1/0');
    expect(r3.exitCode).toBe(1);
    expect(r3.stdout).toContain('from-child');
    expect(r3.stderr).toContain('raw');
    expect(r3.stderr).toMatch(/Traceback[\s\S]*ZeroDivisionError/);
    const r4 = await pod.exec(id, 'print(math.pi > 3, x)');
    expect(r4.stdout).toBe('True 40\n');
  });
});
