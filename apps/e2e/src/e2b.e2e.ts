/**
 * E2B's own SDKs — the pinned `e2b` 2.51.0 and `@e2b/code-interpreter` 2.8.0, unchanged — against
 * the platform as `npm start` runs it (same launcher, same default pools, built bundles), configured
 * only by E2B_API_URL, E2B_SANDBOX_URL and E2B_API_KEY (docs/e2b.md). Every call of E2B-COMPAT's
 * short list is driven here.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Sandbox as CodeInterpreter } from '@e2b/code-interpreter';
import {
  AuthenticationError,
  CommandExitError,
  FileType,
  FilesystemEventType,
  NotFoundError,
  Sandbox,
  SandboxError,
  type FilesystemEvent,
} from 'e2b';
import { defaultPools } from '@executor/launcher';
import { ROOT, startTestPlatform } from './support/platform';

jest.setTimeout(180_000);

describe('E2B SDKs against the platform (npm start stack)', () => {
  let stop: () => Promise<void>;
  let url: string;
  let key: string;
  let otherKey: string;
  const env: Record<string, string | undefined> = {};

  const useKey = (k: string): void => {
    process.env['E2B_API_KEY'] = k;
  };

  beforeAll(async () => {
    const t = await startTestPlatform(defaultPools());
    stop = t.stop;
    url = t.platform.urls[0] as string;
    key = t.api.apiKey;
    otherKey = t.otherTenant.apiKey;
    for (const k of ['E2B_API_URL', 'E2B_SANDBOX_URL', 'E2B_API_KEY', 'E2B_DOMAIN', 'E2B_DEBUG'])
      env[k] = process.env[k];
    process.env['E2B_API_URL'] = url;
    process.env['E2B_SANDBOX_URL'] = url;
    delete process.env['E2B_DOMAIN'];
    delete process.env['E2B_DEBUG'];
    useKey(key);
  }, 300_000);

  afterEach(() => useKey(key));

  afterAll(async () => {
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await stop?.();
  });

  describe('code interpreter (code-interpreter-v1)', () => {
    let sbx: CodeInterpreter;
    beforeAll(async () => {
      sbx = await CodeInterpreter.create({ timeoutMs: 600_000, envs: { GREETING: 'hello' } });
    });
    afterAll(async () => {
      await sbx?.kill();
    });

    it('keeps state across runCode calls and returns the last expression as text', async () => {
      await sbx.runCode('x = 41');
      const r = await sbx.runCode('x + 1');
      expect(r.error).toBeUndefined();
      expect(r.text).toBe('42');
      expect(r.results[0]?.isMainResult).toBe(true);
      expect(r.executionCount).toBeGreaterThanOrEqual(2);
      const s = await sbx.runCode("'v1'");
      expect(s.text).toBe('v1');
      const envs = await sbx.runCode("import os; os.environ['GREETING']");
      expect(envs.text).toBe('hello');
    });

    it('streams stdout while the code runs (onStdout before the execution ends)', async () => {
      const seen: Array<{ line: string; at: number }> = [];
      const started = Date.now();
      const r = await sbx.runCode("import time\nprint('a', flush=True)\ntime.sleep(1)\nprint('b')", {
        onStdout: (m) => void seen.push({ line: m.line, at: Date.now() }),
      });
      const ended = Date.now();
      expect(seen.map((s) => s.line).join('')).toBe('a\nb\n');
      const a = seen.find((s) => s.line.includes('a')) as { at: number };
      const b = seen.find((s) => s.line.includes('b')) as { at: number };
      // 'a' reached us while the kernel slept, about a second before 'b' and the end — not with them.
      expect(b.at - a.at).toBeGreaterThan(700);
      expect(ended - a.at).toBeGreaterThan(700);
      expect(a.at - started).toBeLessThan(ended - started - 700);
      expect(r.logs.stdout.join('')).toBe('a\nb\n');
    });

    it('reports errors with name, value and traceback (runCode still resolves)', async () => {
      const errors: string[] = [];
      const r = await sbx.runCode('1/0', { onError: (e) => void errors.push(e.name) });
      expect(r.error?.name).toBe('ZeroDivisionError');
      expect(r.error?.value).toContain('division by zero');
      expect(r.error?.traceback).toContain('ZeroDivisionError');
      expect(errors).toEqual(['ZeroDivisionError']);
      const after = await sbx.runCode('x');
      expect(after.text).toBe('41');
    });

    it('returns a matplotlib figure as a PNG result without saving it', async () => {
      const r = await sbx.runCode(
        'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.title("squares")\nplt.show()',
      );
      expect(r.error).toBeUndefined();
      const png = r.results.find((x) => x.png)?.png;
      expect(png).toBeDefined();
      expect(Buffer.from(png as string, 'base64').subarray(0, 8)).toEqual(
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      );
    });

    it('returns pandas frames as HTML and text', async () => {
      const r = await sbx.runCode("import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': [3, 4]})");
      expect(r.error).toBeUndefined();
      expect(r.results[0]?.html).toContain('<table');
      expect(r.text).toContain('a  b');
    });

    it('runs other languages per call and in independent contexts (create, list, restart, remove)', async () => {
      const js = await sbx.runCode('const y = 20; y * 2', { language: 'javascript' });
      expect(js.error).toBeUndefined();
      expect(js.text).toBe('40');
      const ctx = await sbx.createCodeContext({ language: 'python', cwd: '/home/user' });
      expect(ctx).toMatchObject({ language: 'python', cwd: '/home/user' });
      await sbx.runCode('z = 7', { context: ctx });
      expect((await sbx.runCode('z', { context: ctx })).text).toBe('7');
      expect((await sbx.runCode("'z' in dir()")).text).toBe('False'); // the default context is another kernel
      expect((await sbx.listCodeContexts()).map((c) => c.id)).toContain(ctx.id);
      await sbx.restartCodeContext(ctx);
      expect((await sbx.runCode("'z' in dir()", { context: ctx })).text).toBe('False');
      await sbx.removeCodeContext(ctx);
      expect((await sbx.listCodeContexts()).map((c) => c.id)).not.toContain(ctx.id);
      await expect(sbx.runCode('1', { context: ctx })).rejects.toThrow(NotFoundError);
    });
  });

  describe('envd (base)', () => {
    let sbx: Sandbox;
    beforeAll(async () => {
      sbx = await Sandbox.create({ timeoutMs: 600_000, metadata: { suite: 'e2b', 'a b': 'c&d' } });
    });
    afterAll(async () => {
      await sbx?.kill();
    });

    it('reports the sandbox running and its info', async () => {
      expect(await sbx.isRunning()).toBe(true);
      const info = await sbx.getInfo();
      expect(info).toMatchObject({ sandboxId: sbx.sandboxId, templateId: 'base', state: 'running' });
      expect(info.metadata).toEqual({ suite: 'e2b', 'a b': 'c&d' });
    });

    it('round-trips text and binary files (10 MB), several per request', async () => {
      await sbx.files.write('/home/user/hello.txt', 'hello e2b');
      expect(await sbx.files.read('/home/user/hello.txt')).toBe('hello e2b');
      const big = randomBytes(10 * 1024 * 1024);
      await sbx.files.write('/home/user/data/big.bin', new Blob([big]));
      const back = await sbx.files.read('/home/user/data/big.bin', { format: 'bytes' });
      expect(Buffer.from(back).equals(big)).toBe(true);
      const streamed = await sbx.files.write('/home/user/data/stream.bin', new Blob([big]).stream());
      expect(streamed.path).toBe('/home/user/data/stream.bin');
      const infos = await sbx.files.write([
        { path: '/home/user/m/a.txt', data: 'A' },
        { path: 'm/b.txt', data: 'B' },
      ]);
      expect(infos.map((i) => i.path).sort()).toEqual(['/home/user/m/a.txt', '/home/user/m/b.txt']);
      expect(await sbx.files.read('m/b.txt')).toBe('B');
      await sbx.files.write('/home/user/empty.txt', '');
      expect(await sbx.files.read('/home/user/empty.txt')).toBe('');
      await expect(sbx.files.read('/home/user/missing.txt')).rejects.toThrow(NotFoundError);
      // The same files as the commands see (their cwd is /home/user).
      expect((await sbx.commands.run('cat hello.txt')).stdout).toBe('hello e2b');
    });

    it('stats, lists (depth), makes dirs, renames and removes', async () => {
      expect(await sbx.files.makeDir('/home/user/tree/a')).toBe(true);
      expect(await sbx.files.makeDir('/home/user/tree/a')).toBe(false);
      await sbx.files.write('/home/user/tree/a/f.txt', 'x');
      const info = await sbx.files.getInfo('/home/user/tree/a/f.txt');
      expect(info).toMatchObject({
        name: 'f.txt',
        type: FileType.FILE,
        size: 1,
        path: '/home/user/tree/a/f.txt',
      });
      expect((await sbx.files.list('/home/user/tree')).map((e) => e.name)).toEqual(['a']);
      expect((await sbx.files.list('/home/user/tree', { depth: 2 })).map((e) => e.path).sort()).toEqual([
        '/home/user/tree/a',
        '/home/user/tree/a/f.txt',
      ]);
      const moved = await sbx.files.rename('/home/user/tree/a/f.txt', '/home/user/tree/g.txt');
      expect(moved.path).toBe('/home/user/tree/g.txt');
      expect(await sbx.files.exists('/home/user/tree/a/f.txt')).toBe(false);
      await sbx.files.remove('/home/user/tree');
      expect(await sbx.files.exists('/home/user/tree')).toBe(false);
    });

    it('watches a directory (start event, then events as files change)', async () => {
      await sbx.files.makeDir('/home/user/watched');
      const events: FilesystemEvent[] = [];
      let seen!: () => void;
      const gotCreate = new Promise<void>((r) => (seen = r));
      const handle = await sbx.files.watchDir('/home/user/watched', (e) => {
        events.push(e);
        if (e.name === 'new.txt' && e.type === FilesystemEventType.CREATE) seen();
      });
      await sbx.files.write('/home/user/watched/new.txt', 'x');
      await gotCreate;
      await handle.stop();
      expect(events.some((e) => e.name === 'new.txt')).toBe(true);
    });

    it('runs commands: output, cwd and env, stdin, CommandExitError, a signal, background + list + connect', async () => {
      const out: string[] = [];
      const r = await sbx.commands.run('echo "$Y from e2b"; echo here > cwd.txt; echo err >&2', {
        envs: { Y: '2' },
        cwd: '/tmp',
        onStdout: (d) => void out.push(d),
      });
      expect(r).toMatchObject({ exitCode: 0, stdout: '2 from e2b\n', stderr: 'err\n' });
      expect(out.join('')).toBe('2 from e2b\n');
      expect(await sbx.files.read('/tmp/cwd.txt')).toBe('here\n'); // it ran in /tmp

      await expect(sbx.commands.run('exit 3')).rejects.toThrow(CommandExitError);
      const failed = await sbx.commands.run('echo no; exit 3').catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(CommandExitError);
      expect((failed as CommandExitError).exitCode).toBe(3);
      expect((failed as CommandExitError).stdout).toBe('no\n');

      const cat = await sbx.commands.run('cat', { background: true, stdin: true });
      await sbx.commands.sendStdin(cat.pid, 'piped\n');
      await sbx.commands.closeStdin(cat.pid);
      expect((await cat.wait()).stdout).toBe('piped\n');

      const sleeper = await sbx.commands.run('sleep 60', { background: true });
      expect((await sbx.commands.list()).map((p) => p.pid)).toContain(sleeper.pid);
      const again = await sbx.commands.connect(sleeper.pid);
      expect(await sbx.commands.kill(sleeper.pid)).toBe(true);
      const killed = await again.wait().catch((e: unknown) => e);
      expect(killed).toBeInstanceOf(CommandExitError);
      expect((killed as CommandExitError).exitCode).not.toBe(0);
      await sleeper.wait().catch(() => undefined);
      expect(await sbx.commands.kill(sleeper.pid)).toBe(false);
    });

    it('connects from a second client to the same sandbox', async () => {
      const second = await Sandbox.connect(sbx.sandboxId);
      await second.files.write('/home/user/from-second.txt', 'two');
      expect(await sbx.files.read('/home/user/from-second.txt')).toBe('two');
    });

    it('lists with metadata filters and X-Next-Token paging', async () => {
      const extra = await Promise.all([1, 2].map(() => Sandbox.create({ metadata: { suite: 'e2b-list' } })));
      try {
        const pager = Sandbox.list({ query: { metadata: { suite: 'e2b-list' } }, limit: 1 });
        const ids: string[] = [];
        while (pager.hasNext) ids.push(...(await pager.nextItems()).map((s) => s.sandboxId));
        expect(ids.sort()).toEqual(extra.map((s) => s.sandboxId).sort());
        const mine = await Sandbox.list({
          query: { metadata: { 'a b': 'c&d' }, state: ['running'] },
        }).nextItems();
        expect(mine.map((s) => s.sandboxId)).toEqual([sbx.sandboxId]);
      } finally {
        await Promise.all(extra.map((s) => s.kill()));
      }
    });

    it('sets an absolute timeout', async () => {
      await sbx.setTimeout(120_000);
      const end = (await sbx.getInfo()).endAt.getTime();
      expect(Math.abs(end - (Date.now() + 120_000))).toBeLessThan(15_000);
    });
  });

  describe('lifecycle and tenancy', () => {
    it('pauses and resumes by connect: same id, files and env kept; kernel variables are not', async () => {
      const sbx = await CodeInterpreter.create({ envs: { KEPT: 'yes' } });
      try {
        await sbx.files.write('/home/user/kept.txt', 'still here');
        await sbx.runCode('volatile = 1');
        expect(await sbx.pause()).toBe(true);
        expect(await sbx.pause()).toBe(false); // already paused (409)
        expect((await sbx.getInfo()).state).toBe('paused');
        expect(await sbx.isRunning()).toBe(false);
        const resumed = await CodeInterpreter.connect(sbx.sandboxId);
        expect(resumed.sandboxId).toBe(sbx.sandboxId);
        expect((await resumed.getInfo()).state).toBe('running');
        expect(await resumed.files.read('/home/user/kept.txt')).toBe('still here');
        expect((await resumed.runCode("import os; os.environ['KEPT']")).text).toBe('yes');
        // Documented: kernels restart empty after a pause (docs/e2b.md).
        expect((await resumed.runCode('volatile')).error?.name).toBe('NameError');
      } finally {
        await sbx.kill();
      }
    });

    it('kill → NotFound afterwards (and /health answers 502)', async () => {
      const sbx = await Sandbox.create();
      expect(await Sandbox.kill(sbx.sandboxId)).toBe(true);
      expect(await Sandbox.kill(sbx.sandboxId)).toBe(false);
      await expect(Sandbox.getInfo(sbx.sandboxId)).rejects.toThrow(NotFoundError);
      await expect(Sandbox.connect(sbx.sandboxId)).rejects.toThrow(NotFoundError);
      expect(await sbx.isRunning()).toBe(false);
      await expect(sbx.commands.run('true')).rejects.toThrow(SandboxError);
    });

    it('a bad key is an AuthenticationError', async () => {
      useKey('not-a-key-of-this-platform');
      await expect(Sandbox.create()).rejects.toThrow(AuthenticationError);
      await expect(Sandbox.list().nextItems()).rejects.toThrow(AuthenticationError);
    });

    it("another tenant's sandbox is not found, and its token does not leak", async () => {
      const sbx = await Sandbox.create();
      try {
        useKey(otherKey);
        await expect(Sandbox.getInfo(sbx.sandboxId)).rejects.toThrow(NotFoundError);
        await expect(Sandbox.connect(sbx.sandboxId)).rejects.toThrow(NotFoundError);
        expect(await Sandbox.kill(sbx.sandboxId)).toBe(false);
        expect((await Sandbox.list().nextItems()).map((s) => s.sandboxId)).not.toContain(sbx.sandboxId);
        // Without its envdAccessToken the sandbox plane refuses the request.
        const res = await fetch(`${url}/filesystem.Filesystem/Stat`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'e2b-sandbox-id': sbx.sandboxId,
            'e2b-sandbox-port': '49983',
          },
          body: JSON.stringify({ path: '/home/user' }),
        });
        expect(res.status).toBe(401);
        useKey(key);
        expect(await sbx.isRunning()).toBe(true);
      } finally {
        useKey(key);
        await sbx.kill();
      }
    });
  });

  it('examples/e2b-sdk.ts: a plain E2B program, configured only by the three E2B variables', async () => {
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['-r', '@swc-node/register', join(ROOT, 'examples', 'e2b-sdk.ts')],
        {
          cwd: ROOT,
          env: {
            PATH: process.env['PATH'],
            HOME: process.env['HOME'],
            SWC_NODE_PROJECT: join(ROOT, 'examples', 'tsconfig.json'),
            E2B_API_URL: url,
            E2B_SANDBOX_URL: url,
            E2B_API_KEY: key,
          },
          timeout: 170_000,
        },
        (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('area: 12.566');
    expect(r.stdout).toContain('streamed: tick 0, tick 1, tick 2');
    expect(r.stdout).toMatch(/chart: \d+ bytes of PNG/);
    expect(r.stdout).toContain('command: 21 (exit 0)');
    expect(r.stdout).toContain('error: NameError');
    expect(r.stdout).toContain('done');
  });
});
