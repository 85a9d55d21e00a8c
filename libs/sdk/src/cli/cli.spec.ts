import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startFakeApi, type FakeApi } from '../../test/support/api-server';
import { startHttpServer, apiError } from '../../test/support/http-server';
import { runCli, exitCodeOf, parseRemote } from './cli';
import { templateForFile } from './templates';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

describe('executor CLI (in-process, against an API-shaped HTTP server)', () => {
  let api: FakeApi;
  let dir: string;

  beforeEach(async () => {
    api = await startFakeApi();
    dir = mkdtempSync(join(tmpdir(), 'executor-cli-'));
  });
  afterEach(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function cli(
    argv: string[],
    opts: { stdin?: string | Buffer; env?: NodeJS.ProcessEnv } = {},
  ): Promise<Result> {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const code = await runCli(argv, {
      stdout: { write: (c) => out.push(Buffer.from(c)) },
      stderr: { write: (c) => err.push(Buffer.from(c)) },
      stdin: Readable.from(opts.stdin === undefined ? [] : [Buffer.from(opts.stdin)]),
      env: opts.env ?? { EXECUTOR_URL: api.url, EXECUTOR_API_KEY: api.key, HOME: dir },
      cwd: dir,
    });
    const stdoutBytes = Buffer.concat(out);
    return { code, stdout: stdoutBytes.toString(), stderr: Buffer.concat(err).toString(), stdoutBytes };
  }

  it('run: creates a session, prints stdout/stderr, exits with the code exit code, closes the session', async () => {
    writeFileSync(join(dir, 'job.py'), '# out: hello\n# err: warn\n# exit: 3\n');
    const r = await cli(['run', 'job.py']);
    expect(r).toMatchObject({ code: 3, stdout: 'hello\n', stderr: 'warn\n' });
    const create = api.requests.find((q) => q.method === 'POST' && q.url === '/v1/sessions');
    expect(JSON.parse(create?.body.toString() ?? '')).toMatchObject({ template: 'python', persist: false });
    expect(api.sessions.size).toBe(0);
  });

  it('run: reads stdin with --template, --keep keeps the session, --json prints the result', async () => {
    const r = await cli(['run', '-', '--template', 'bash', '--keep', '--json', '--env', 'A=1'], {
      stdin: '# out: x\n',
    });
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(parsed).toMatchObject({ exitCode: 0, stdout: 'x\n', timedOut: false });
    expect(api.sessions.has(parsed['session'] as string)).toBe(true);
    const exec = api.requests.find((q) => q.url.endsWith('/executions'));
    expect(JSON.parse(exec?.body.toString() ?? '')).toMatchObject({ env: { A: '1' } });
  });

  it('run: a timed-out execution exits 124 with a message', async () => {
    writeFileSync(join(dir, 'slow.sh'), '# timeout\n');
    const r = await cli(['run', 'slow.sh']);
    expect(r.code).toBe(124);
    expect(r.stderr).toContain('timed out');
  });

  it('run: usage errors exit 2', async () => {
    writeFileSync(join(dir, 'x.unknown'), '');
    expect(await cli(['run', 'x.unknown'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('cannot infer the template of "x.unknown"'),
    });
    expect(await cli(['run', '-'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('reading from stdin needs --template'),
    });
    expect(await cli(['run', 'missing.py'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('cannot read missing.py: no such file'),
    });
    expect(await cli(['frobnicate'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unknown command "frobnicate"'),
    });
    expect(await cli(['pools', '--ttl', '3'])).toMatchObject({ code: 2 });
    expect(await cli([])).toMatchObject({ code: 2, stdout: expect.stringContaining('Usage:') });
    expect(await cli(['--help'])).toMatchObject({ code: 0, stdout: expect.stringContaining('executor cp') });
  });

  it('session create/list/get/extend/persist/rm and exec', async () => {
    const created = await cli([
      'session',
      'create',
      'python',
      '--ttl',
      '60',
      '--meta',
      'user=ana',
      '--no-persist',
    ]);
    expect(created.code).toBe(0);
    const id = created.stdout.trim();
    expect(api.sessions.get(id)?.info).toMatchObject({ persist: false, metadata: { user: 'ana' } });
    const list = await cli(['session', 'list']);
    expect(list.stdout).toMatch(new RegExp(`^ID +TEMPLATE +POD +STATUS +PERSIST +EXPIRES\\n${id} +python`));
    const listJson = JSON.parse((await cli(['session', 'list', '--json'])).stdout) as {
      items: Array<{ id: string }>;
    };
    expect(listJson.items.map((s) => s.id)).toEqual([id]);
    expect(JSON.parse((await cli(['session', 'get', id])).stdout)).toMatchObject({ id, migrations: [] });
    expect((await cli(['session', 'extend', id, '--ttl', '120'])).stdout).toContain(`${id} expires at`);
    expect((await cli(['session', 'persist', id])).stdout).toMatch(/^snapshot v1 \(1\.2 KiB\)/);
    const ex = await cli(['exec', id, '# out: hi\n# exit: 7']);
    expect(ex).toMatchObject({ code: 7, stdout: 'hi\n' });
    const exStdin = await cli(['exec', id, '-'], { stdin: '# out: piped' });
    expect(exStdin).toMatchObject({ code: 0, stdout: 'piped\n' });
    expect(await cli(['session', 'rm', id])).toMatchObject({ code: 0, stdout: `removed ${id}\n` });
    const gone = await cli(['session', 'rm', id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe(`executor: not_found (404): session "${id}" not found\n`);
  });

  it('cp: binary round trip, directory targets, stdout', async () => {
    const id = (await cli(['session', 'create', 'python'])).stdout.trim();
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) % 256));
    writeFileSync(join(dir, 'blob.bin'), bytes);
    expect((await cli(['cp', 'blob.bin', `${id}:data/`])).code).toBe(0);
    expect(api.sessions.get(id)?.files.get('data/blob.bin')?.equals(bytes)).toBe(true);
    expect((await cli(['cp', `${id}:data/blob.bin`, 'back.bin'])).code).toBe(0);
    expect(readFileSync(join(dir, 'back.bin')).equals(bytes)).toBe(true);
    const toStdout = await cli(['cp', `${id}:data/blob.bin`, '-']);
    expect(toStdout.stdoutBytes.equals(bytes)).toBe(true);
    const json = JSON.parse((await cli(['cp', 'blob.bin', `${id}:x.bin`, '--json'])).stdout) as Record<
      string,
      unknown
    >;
    expect(json).toEqual({ session: id, path: 'x.bin', bytes: 4096 });
    const ls = await cli(['ls', id]);
    expect(ls.stdout).toMatch(/data\/blob\.bin +4\.0 KiB/);
    expect(await cli(['cp', 'a', 'b'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('one side to be <session>:<path>'),
    });
    expect((await cli(['cp', `${id}:nope.bin`, 'n.bin'])).stderr).toContain(
      'not_found (404): file "nope.bin" not found',
    );
  });

  it('pools: a table with health and breaker state; --json parses', async () => {
    const r = await cli(['pools']);
    expect(r.stdout.split('\n')[0]).toMatch(
      /^NAME +TEMPLATE +REGION +WEIGHT +HEALTHY +CIRCUIT +PODS +SESSIONS +CONNS +QUEUE$/,
    );
    expect(r.stdout).toMatch(/node +node +eu +2 +NO +open +0 +0 +0 +3/);
    const j = JSON.parse((await cli(['pools', '--json'])).stdout) as { items: Array<{ circuit: string }> };
    expect(j.items.map((p) => p.circuit)).toEqual(['closed', 'open']);
    expect(JSON.parse((await cli(['pools', 'python'])).stdout)).toMatchObject({
      name: 'python',
      podDetails: [],
    });
  });

  it('API and network errors: clear message, exit 1, JSON on stderr with --json', async () => {
    const bad = await cli(['pools'], {
      env: { EXECUTOR_URL: api.url, EXECUTOR_API_KEY: 'wrong-key-000', HOME: dir },
    });
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toBe(
      'executor: authentication failed (401): missing or unknown API key. Check --key / EXECUTOR_API_KEY.\n',
    );
    const badJson = await cli(['pools', '--json'], {
      env: { EXECUTOR_URL: api.url, EXECUTOR_API_KEY: 'wrong-key-000', HOME: dir },
    });
    expect(JSON.parse(badJson.stderr)).toEqual({
      error: { code: 'unauthenticated', status: 401, message: 'missing or unknown API key' },
    });
    const url = api.url;
    await api.close();
    const down = await cli(['pools', '--url', url, '--key', 'k']);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`cannot reach the API at ${url}`);
    expect(down.stderr).toContain('Is the platform running');
    api = await startFakeApi();
    const noKey = await cli(['pools'], { env: { HOME: dir } });
    expect(noKey).toMatchObject({ code: 2, stderr: expect.stringContaining('no API key') });
  });

  it('503 with retryAfterSeconds is reported with its hint after the retries', async () => {
    const busy = await startHttpServer((_req, res) =>
      apiError(res, 503, 'unavailable', 'no healthy pool for template "python"', { retryAfterSeconds: 0 }),
    );
    try {
      const r = await cli(['session', 'create', 'python', '--url', busy.url, '--key', 'k']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        'executor: unavailable (503): no healthy pool for template "python" (retry after 0s)\n',
      );
      expect(busy.requests).toHaveLength(4); // 1 + 3 retries
    } finally {
      await busy.close();
    }
  });
});

describe('CLI helpers', () => {
  it('infers templates from extensions', () => {
    expect(['a.py', 'b.ts', 'c.mjs', 'd.R', 'e.rs', 'f.cc', 'g.txt'].map(templateForFile)).toEqual([
      'python',
      'typescript',
      'node',
      'r',
      'rust',
      'cpp',
      undefined,
    ]);
  });

  it('parses <session>:<path>', () => {
    expect(parseRemote('ses-1:out/a.png')).toEqual({ session: 'ses-1', path: 'out/a.png' });
    expect(parseRemote('./a:b')).toBeUndefined();
    expect(parseRemote('local.txt')).toBeUndefined();
    expect(parseRemote(':x')).toBeUndefined();
  });

  it('maps execution results to exit codes', () => {
    const base = { id: 'e', stdout: '', stderr: '', durationMs: 1, truncated: false, results: [] };
    expect(exitCodeOf({ ...base, exitCode: 0, timedOut: false })).toBe(0);
    expect(exitCodeOf({ ...base, exitCode: 42, timedOut: false })).toBe(42);
    expect(exitCodeOf({ ...base, exitCode: -9, timedOut: false })).toBe(1);
    expect(exitCodeOf({ ...base, exitCode: 137, timedOut: true })).toBe(124);
  });
});
