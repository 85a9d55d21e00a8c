import { JobCallError, type ExecutionEvent } from '@executor/queues';
import { PodDriver, startHarness, type Harness } from './harness';
import { exec, execStream } from './e2b-driver';

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

describe('rich results, structured errors and streaming (code-interpreter-v1, python)', () => {
  let h: Harness;
  let pod: PodDriver;
  let id: string;

  beforeAll(async () => {
    h = await startHarness();
    pod = await PodDriver.start(h, 'code-interpreter-v1');
    id = (await pod.open()).id;
  });
  afterAll(async () => {
    await pod?.stop();
    await h?.stop();
  });

  it('returns the last expression as the main result (text/plain), keeps state and counts executions', async () => {
    const r1 = await exec(pod, id, 'x = 40\ndef f(v):\n    return v + 2\nprint("side")');
    expect(r1).toMatchObject({ exitCode: 0, stdout: 'side\n', results: [], context: 'default' });
    const r2 = await exec(pod, id, 'f(x)');
    expect(r2.results).toEqual([{ isMain: true, 'text/plain': '42' }]);
    expect(r2.stdout).toBe('42\n'); // callers reading text only see it as a REPL prints it
    expect(r2.executionCount).toBe((r1.executionCount as number) + 1);
    const r3 = await exec(pod, id, 'f(x);'); // a trailing ';' suppresses it, as in IPython
    expect(r3.results).toEqual([]);
    expect((await exec(pod, id, 'None')).results).toEqual([]);
  });

  it('renders a matplotlib plot as image/png without the user saving it (Agg), and closes the figure', async () => {
    const r = await exec(
      pod,
      id,
      'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.title("t")',
    );
    expect(r.exitCode).toBe(0);
    const main = r.results?.filter((x) => x.isMain) ?? [];
    const figures = r.results?.filter((x) => !x.isMain) ?? [];
    expect(main).toHaveLength(1);
    expect(main[0]?.['text/plain']).toMatch(/Text\(0\.5, 1\.0, 't'\)/);
    expect(figures).toHaveLength(1);
    const png = Buffer.from(figures[0]?.['image/png'] as string, 'base64');
    expect(png.subarray(0, 4)).toEqual(PNG_MAGIC);
    expect(png.length).toBeGreaterThan(1000);
    expect(figures[0]?.['text/plain']).toMatch(/Figure size/);
    // closed: the next cell has no figure
    expect((await exec(pod, id, 'len(plt.get_fignums())')).results).toEqual([
      { isMain: true, 'text/plain': '0' },
    ]);
    // plt.show() sends them at once; two figures → two results
    const two = await exec(
      pod,
      id,
      'plt.figure(); plt.plot([1]); plt.show()\nplt.figure(); plt.plot([2])\n1',
    );
    expect(two.results?.map((x) => (x.isMain ? 'main' : x['image/png'] ? 'png' : '?'))).toEqual([
      'png',
      'main',
      'png',
    ]);
    expect(two.stderr).toBe(''); // no "non-interactive" warning
  });

  it('renders a pandas DataFrame as text/html and text/plain', async () => {
    const r = await exec(
      pod,
      id,
      'import pandas as pd\ndf = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})\ndf',
    );
    expect(r.results).toHaveLength(1);
    const item = r.results?.[0] ?? { isMain: false };
    expect(item.isMain).toBe(true);
    expect(item['text/html']).toMatch(/<table[\s\S]*<th>a<\/th>[\s\S]*<td>x<\/td>/);
    expect(item['text/plain']).toMatch(/a\s+b\n0\s+1\s+x\n1\s+2\s+y/);
  });

  it('uses _repr_html_, _repr_mimebundle_, _repr_json_ and display() (isMain false), in order', async () => {
    const r = await exec(
      pod,
      id,
      [
        'class H:',
        '    def _repr_html_(self): return "<b>h</b>"',
        '    def __repr__(self): return "H()"',
        'class B:',
        '    def _repr_mimebundle_(self, include=None, exclude=None):',
        '        return {"text/markdown": "**b**", "application/json": {"k": [1, 2]}}',
        'class J:',
        '    def _repr_json_(self): return {"j": True}',
        'display(H(), 5)',
        'display(B())',
        'J()',
      ].join('\n'),
    );
    expect(r.exitCode).toBe(0);
    expect(r.results).toEqual([
      { isMain: false, 'text/html': '<b>h</b>', 'text/plain': 'H()' },
      { isMain: false, 'text/plain': '5' },
      {
        isMain: false,
        'text/markdown': '**b**',
        'application/json': { k: [1, 2] },
        'text/plain': expect.stringMatching(/B object/),
      },
      { isMain: true, 'application/json': { j: true }, 'text/plain': expect.stringMatching(/J object/) },
    ]);
    // A class is not rendered through its (unbound) _repr_html_.
    expect((await exec(pod, id, 'H')).results).toEqual([
      { isMain: true, 'text/plain': "<class '__main__.H'>" },
    ]);
  });

  it('reports errors with name, value and traceback (kernel frames removed) and keeps the kernel', async () => {
    const r = await exec(pod, id, 'def g():\n    raise ValueError("bad value")\ng()');
    expect(r.exitCode).toBe(1);
    expect(r.error).toMatchObject({ name: 'ValueError', value: 'bad value' });
    expect(r.error?.traceback).toMatch(
      /Traceback \(most recent call last\):[\s\S]*line 3[\s\S]*in g\n[\s\S]*ValueError: bad value/,
    );
    expect(r.error?.traceback).not.toMatch(/python_kernel/);
    expect(r.stderr).toContain('ValueError: bad value'); // text-only callers still see the traceback
    const syntax = await exec(pod, id, 'def (:');
    expect(syntax.error?.name).toBe('SyntaxError');
    const timeout = await exec(pod, id, 'while True: pass', { timeoutMs: 300 });
    expect(timeout).toMatchObject({ timedOut: true, error: { name: 'TimeoutError' } });
    expect((await exec(pod, id, 'x')).results).toEqual([{ isMain: true, 'text/plain': '40' }]);
  });

  it('streams stdout/stderr chunks as printed: the first ≤ 50 ms after print, before sleep ends', async () => {
    // Warm up the stream path once (first subscribe/publish on fresh connections).
    await execStream(pod, id, 'print("warm", flush=True)');
    const samples: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { events, result, repliedAt } = await execStream(
        pod,
        id,
        "import time, sys\nt0 = time.time()\nprint('a', flush=True); time.sleep(1); print('b')\nsys.stderr.write('e\\n')\nt0",
      );
      const printedAt = Number(result.results?.[0]?.['text/plain']) * 1000;
      const outs = events.filter((e) => e.event.t === 'stdout');
      expect(outs.map((e) => (e.event as { text: string }).text).join('')).toBe('a\nb\n');
      const first = outs[0] as { event: ExecutionEvent & { ts: number }; at: number };
      // print() writes 'a' and its '\n' separately: a read between the two gives 'a' then '\n'
      expect(['a', 'a\n']).toContain((first.event as { text: string }).text);
      const latency = first.at - printedAt;
      samples.push(latency);
      expect(first.event.ts).toBeGreaterThanOrEqual(printedAt - 5);
      // 'a' arrived while the kernel still slept: about a second before 'b' and the reply
      const b = outs[outs.length - 1] as { at: number };
      expect(b.at - first.at).toBeGreaterThan(900);
      expect(repliedAt - first.at).toBeGreaterThan(900);
      expect(events.some((e) => e.event.t === 'stderr' && (e.event as { text: string }).text === 'e\n')).toBe(
        true,
      );
      // the main result is an event, not stdout
      expect(events.filter((e) => e.event.t === 'result')).toHaveLength(1);
      // and the reply carries the whole text as before
      expect(result.stdout).toBe(`a\nb\n${result.results?.[0]?.['text/plain']}\n`);
    }
    samples.sort((a, b) => a - b);
    // eslint-disable-next-line no-console
    console.log(
      `first-chunk latency print → subscriber (ms): ${samples.map((s) => s.toFixed(1)).join(', ')}`,
    );
    expect(samples[1]).toBeLessThanOrEqual(50); // median of three on a shared machine
  });

  it('streams results and the error as events before the reply', async () => {
    const { events, result } = await execStream(pod, id, 'display(1)\nprint("p")\nraise KeyError("k")');
    const kinds = events.map((e) => e.event.t);
    expect(kinds).toContain('result');
    expect(kinds[kinds.length - 1]).toBe('error');
    expect(events.find((e) => e.event.t === 'error')?.event).toEqual({ t: 'error', error: result.error });
    expect(result.error).toMatchObject({ name: 'KeyError', value: "'k'" });
    // the traceback is not streamed as stderr (it is the error event)
    expect(events.some((e) => e.event.t === 'stderr')).toBe(false);
  });

  it('refuses a stream channel of another kind (cannot publish on a reply channel)', async () => {
    const err = await exec(pod, id, '1', { stream: `${h.prefix}:replies:${h.client.callerId}` }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JobCallError);
    expect((err as JobCallError).code).toBe('invalid_argument');
  });
});

describe('streaming from a one-shot template (bash: a fresh process per execution)', () => {
  let h: Harness;
  let pod: PodDriver;

  beforeAll(async () => {
    h = await startHarness();
    pod = await PodDriver.start(h, 'bash');
  });
  afterAll(async () => {
    await pod?.stop();
    await h?.stop();
  });

  it('publishes output as the process writes it', async () => {
    const { id } = await pod.open();
    const { events, result } = await execStream(pod, id, 'echo a; sleep 0.6; echo b >&2; echo c');
    expect(result).toMatchObject({
      exitCode: 0,
      stdout: 'a\nc\n',
      stderr: 'b\n',
      results: [],
      context: 'default',
    });
    const a = events.find(
      (e) => e.event.t === 'stdout' && (e.event as { text: string }).text.startsWith('a'),
    );
    const b = events.find((e) => e.event.t === 'stderr');
    expect(a && b).toBeTruthy();
    expect((b as { at: number }).at - (a as { at: number }).at).toBeGreaterThan(500);
  });
});
