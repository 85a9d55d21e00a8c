import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startFakeApi, type FakeApi } from './support/api-server';
import type { RecordedRequest } from './support/http-server';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..', '..');
const DIST = join(ROOT, 'dist', 'libs', 'sdk');
const BIN = join(DIST, 'cjs', 'cli', 'main.js');

// The `test` target depends on `build`: these tests read what `npm pack dist/libs/sdk` publishes.
describe('the built package (dist/libs/sdk)', () => {
  beforeAll(() => {
    if (!existsSync(join(DIST, 'package.json')))
      throw new Error(`${DIST} is missing: run \`npx nx build sdk\``);
  });

  it('imports as ESM and as CommonJS in plain Node, with the same API', async () => {
    const probe =
      'const c = new m.ExecutorClient({ baseUrl: "http://127.0.0.1:1", apiKey: "k" }); console.log(JSON.stringify({ keys: Object.keys(m).sort(), session: typeof m.Session.prototype[Symbol.asyncDispose], err: new m.NotFoundError("x") instanceof m.ExecutorError, pools: typeof c.pools.list }));';
    const esm = await run(process.execPath, [
      '--input-type=module',
      '-e',
      `import * as m from ${JSON.stringify(join(DIST, 'esm', 'index.js'))}; ${probe}`,
    ]);
    const cjs = await run(process.execPath, [
      '-e',
      `const m = require(${JSON.stringify(join(DIST, 'cjs', 'index.js'))}); ${probe}`,
    ]);
    const a = JSON.parse(esm.stdout) as { keys: string[] };
    expect(JSON.parse(cjs.stdout)).toEqual(a);
    expect(a).toMatchObject({ session: 'function', err: true, pools: 'function' });
    expect(a.keys).toEqual(
      expect.arrayContaining([
        'ExecutorClient',
        'Session',
        'UnavailableError',
        'AbortError',
        'NetworkError',
        'SDK_VERSION',
      ]),
    );
  });

  it('resolves through its package.json exports for both import and require', async () => {
    const app = mkdtempSync(join(tmpdir(), 'sdk-consumer-'));
    try {
      execFileSync('mkdir', ['-p', join(app, 'node_modules', '@executor')]);
      execFileSync('ln', ['-s', DIST, join(app, 'node_modules', '@executor', 'sdk')]);
      writeFileSync(
        join(app, 'a.mjs'),
        "import { ExecutorClient } from '@executor/sdk'; console.log(typeof ExecutorClient);",
      );
      writeFileSync(
        join(app, 'b.cjs'),
        "const { ExecutorClient } = require('@executor/sdk'); console.log(typeof ExecutorClient);",
      );
      expect((await run(process.execPath, [join(app, 'a.mjs')], { cwd: app })).stdout).toBe('function\n');
      expect((await run(process.execPath, [join(app, 'b.cjs')], { cwd: app })).stdout).toBe('function\n');
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  it('type-checks for TypeScript consumers of both formats (module nodenext: .mts and .cts)', async () => {
    const app = mkdtempSync(join(tmpdir(), 'sdk-types-'));
    try {
      execFileSync('mkdir', ['-p', join(app, 'node_modules', '@executor')]);
      execFileSync('ln', ['-s', DIST, join(app, 'node_modules', '@executor', 'sdk')]);
      const use = `const c = new ExecutorClient({ baseUrl: 'http://x', apiKey: 'k' });
export async function f(): Promise<number> {
  await using s = await c.createSession({ template: 'python' });
  const r = await s.execute('1', { timeoutMs: 5 });
  try { await c.pools.list(); } catch (e) { if (e instanceof UnavailableError) return e.retryAfterSeconds ?? 0; }
  return r.exitCode;
}
`;
      writeFileSync(
        join(app, 'a.mts'),
        `import { ExecutorClient, UnavailableError } from '@executor/sdk';\n${use}`,
      );
      writeFileSync(
        join(app, 'b.cts'),
        `import { ExecutorClient, UnavailableError } from '@executor/sdk';\n${use}`,
      );
      writeFileSync(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'nodenext',
            target: 'es2022',
            lib: ['es2023', 'esnext.disposable'],
            strict: true,
            noEmit: true,
            typeRoots: [join(ROOT, 'node_modules', '@types')],
            types: ['node'],
          },
          files: ['a.mts', 'b.cts'],
        }),
      );
      const tsc = require.resolve('typescript/bin/tsc');
      await expect(
        run(process.execPath, [tsc, '-p', join(app, 'tsconfig.json')], { cwd: app }),
      ).resolves.toMatchObject({ stderr: '' });
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  it('ships types, a bin and nothing else (npm pack --dry-run)', async () => {
    const pkg = JSON.parse(readFileSync(join(DIST, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg['bin']).toEqual({ executor: 'cjs/cli/main.js' });
    expect(pkg['dependencies']).toEqual({});
    expect(statSync(BIN).mode & 0o111).not.toBe(0);
    expect(readFileSync(BIN, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: DIST });
    const files =
      (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]?.files.map((f) => f.path) ?? [];
    expect(files).toEqual(
      expect.arrayContaining([
        'package.json',
        'README.md',
        'cjs/index.js',
        'cjs/index.d.ts',
        'esm/index.js',
        'esm/index.d.ts',
        'cjs/cli/main.js',
        'esm/package.json',
      ]),
    );
    expect(files.filter((f) => /\.spec\.|\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
  });

  describe('the executor binary as a subprocess', () => {
    let api: FakeApi;
    let dir: string;
    beforeAll(async () => {
      api = await startFakeApi();
      dir = mkdtempSync(join(tmpdir(), 'sdk-bin-'));
    });
    afterAll(async () => {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const children: ChildProcess[] = [];
    const bin = (
      args: string[],
      env: NodeJS.ProcessEnv = {},
    ): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        const child = execFile(
          BIN,
          args,
          {
            cwd: dir,
            env: {
              PATH: process.env['PATH'],
              HOME: dir,
              EXECUTOR_URL: api.url,
              EXECUTOR_API_KEY: api.key,
              ...env,
            },
          },
          (err, stdout, stderr) =>
            resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
        children.push(child);
      });

    it('propagates the exit code of run and exits promptly', async () => {
      writeFileSync(join(dir, 'a.py'), '# out: from the binary\n# exit: 5\n');
      expect(await bin(['run', 'a.py'])).toEqual({ code: 5, stdout: 'from the binary\n', stderr: '' });
    });

    it('prints JSON that parses, and usage errors exit 2', async () => {
      expect(JSON.parse((await bin(['pools', '--json'])).stdout)).toMatchObject({
        items: [{ name: 'python' }, { name: 'node' }],
      });
      expect((await bin(['--version'])).stdout.trim()).toBe(
        JSON.parse(readFileSync(join(DIST, 'package.json'), 'utf8')).version,
      );
      const usage = await bin(['session']);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain('session needs a command');
    });

    it('Ctrl-C during run: exit 130, "interrupted", and the session is still deleted', async () => {
      writeFileSync(join(dir, 'long.py'), '# sleep: 20000\n');
      const executing = new Promise<void>((resolve) =>
        api.events.on(
          'request',
          (r: RecordedRequest) => r.method === 'POST' && r.url.endsWith('/executions') && resolve(),
        ),
      );
      const done = bin(['run', 'long.py']);
      await executing;
      expect(api.sessions.size).toBe(1);
      const child = children[children.length - 1];
      child?.kill('SIGINT');
      const r = await done;
      expect(r.code).toBe(130);
      expect(r.stderr).toBe('executor: interrupted\n');
      expect(api.sessions.size).toBe(0);
    });

    it('reads the config file named by EXECUTOR_CONFIG', async () => {
      const cfg = join(dir, 'cfg.json');
      writeFileSync(cfg, JSON.stringify({ url: api.url, apiKey: api.key }));
      const r = await bin(['session', 'list', '--json'], {
        EXECUTOR_URL: '',
        EXECUTOR_API_KEY: '',
        EXECUTOR_CONFIG: cfg,
      });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toHaveProperty('items');
    });
  });
});
