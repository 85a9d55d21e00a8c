// The SDK's streamed executions, rich results, commands and contexts against the real platform
// (code-interpreter-v1 executor): the same capabilities E2B's SDKs get.
import { ExecutorClient, type CommandSignal, type Session } from '../../src';
import { startPlatform, type TestPlatform } from './support';

describe('SDK streaming, rich results, commands, contexts (real platform)', () => {
  let p: TestPlatform;
  let session: Session;

  beforeAll(async () => {
    p = await startPlatform([{ name: 'ci', template: 'code-interpreter-v1', replicas: 1 }]);
    const client = new ExecutorClient({ baseUrl: p.url, apiKey: p.key });
    session = await client.createSession({ template: 'code-interpreter-v1', persist: false });
  }, 240_000);
  afterAll(async () => {
    await session?.close().catch(() => undefined);
    await p?.stop();
  });

  it('calls onStdout while the code runs and returns rich results', async () => {
    const chunks: Array<{ text: string; at: number }> = [];
    const r = await session.execute(
      "import time\nprint('a', flush=True)\ntime.sleep(1)\nprint('b')\n{'k': 1}",
      {
        onStdout: (text) => void chunks.push({ text, at: Date.now() }),
      },
    );
    const done = Date.now();
    expect(chunks.map((c) => c.text).join('')).toBe('a\nb\n');
    expect(done - (chunks.find((c) => c.text.includes('a')) as { at: number }).at).toBeGreaterThan(700);
    expect(r.results.find((x) => x.isMain)?.['text/plain']).toBe("{'k': 1}");
    const err = await session.execute("raise ValueError('nope')");
    expect(err.error).toMatchObject({ name: 'ValueError', value: 'nope' });
    const types: string[] = [];
    for await (const e of session.executeStream('import matplotlib.pyplot as plt\nplt.plot([1, 2])'))
      types.push(e.type === 'result' && e.result['image/png'] ? 'png' : e.type);
    expect(types).toContain('png');
    expect(types.at(-1)).toBe('end');
  });

  it('runs commands (streamed, background with stdin, killed) and contexts', async () => {
    const out: string[] = [];
    const r = await session.commands.run('echo hi; exit 4', { onStdout: (t) => void out.push(t) });
    expect(r).toMatchObject({ exitCode: 4, stdout: 'hi\n' });
    expect(out.join('')).toBe('hi\n');
    const bg = await session.commands.start('cat', { stdin: true });
    const attached = session.commands.connect(bg.pid);
    await session.commands.sendStdin(bg.pid, 'piped\n');
    await session.commands.closeStdin(bg.pid);
    expect((await attached).exitCode).toBe(0);
    const sleeper = await session.commands.start('sleep 30');
    expect((await session.commands.list()).map((x) => x.pid)).toContain(sleeper.pid);
    const killed = session.commands.connect(sleeper.pid);
    const sig: CommandSignal = 'SIGKILL';
    await session.commands.kill(sleeper.pid, sig);
    expect((await killed).exitCode).toBe(-1);
    const ctx = await session.contexts.create('javascript');
    expect((await session.execute('21 * 2', { context: ctx.id })).results[0]?.['text/plain']).toBe('42');
    expect((await session.contexts.list()).map((c) => c.id)).toContain(ctx.id);
    await session.contexts.remove(ctx.id);
  });
});
