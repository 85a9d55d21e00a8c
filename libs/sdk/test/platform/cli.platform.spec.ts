// The built `executor` binary as a subprocess against the real platform.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_BIN, offlinePipEnv, startPlatform, type TestPlatform } from './support';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('executor CLI (built binary) against the real platform', () => {
  let p: TestPlatform;
  let dir: string;

  beforeAll(async () => {
    if (!existsSync(CLI_BIN)) throw new Error(`${CLI_BIN} is missing: npx nx build sdk`);
    p = await startPlatform([{ name: 'python', template: 'python', replicas: 1 }], {
      env: { executor: offlinePipEnv() },
    });
    dir = mkdtempSync(join(tmpdir(), 'executor-cli-'));
  });
  afterAll(async () => {
    await p?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cli = (args: string[], stdin?: string): Promise<Run> =>
    new Promise((resolve) => {
      const child = execFile(
        CLI_BIN,
        args,
        {
          cwd: dir,
          env: { PATH: process.env['PATH'], HOME: dir, EXECUTOR_URL: p.url, EXECUTOR_API_KEY: p.key },
          maxBuffer: 16 * 1024 * 1024,
        },
        (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      if (stdin !== undefined) child.stdin?.end(stdin);
      else child.stdin?.end();
    });

  it('run <file>: infers the template, prints output, propagates the exit code, removes the session', async () => {
    writeFileSync(
      join(dir, 'job.py'),
      'import sys\nprint("hello from", sys.version_info[0])\nprint("to stderr", file=sys.stderr)\nsys.exit(7)\n',
    );
    const r = await cli(['run', 'job.py']);
    expect(r).toEqual({ code: 7, stdout: 'hello from 3\n', stderr: expect.stringContaining('to stderr') });
    const left = JSON.parse((await cli(['session', 'list', '--json'])).stdout) as { items: unknown[] };
    expect(left.items).toEqual([]);
  });

  it('run -: reads stdin with --template; exit 0; --json parses', async () => {
    const r = await cli(['run', '-', '--template', 'python', '--json'], 'print(6 * 7)\n');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      exitCode: 0,
      stdout: '42\n',
      timedOut: false,
      session: expect.any(String),
    });
  });

  it('session create/list/get --json, exec keeps state, cp round trip of a binary file is byte-identical, rm', async () => {
    const created = await cli(['session', 'create', 'python', '--ttl', '600', '--json']);
    expect(created.code).toBe(0);
    const info = JSON.parse(created.stdout) as { id: string; template: string };
    expect(info.template).toBe('python');
    const id = info.id;

    const list = JSON.parse((await cli(['session', 'list', '--json'])).stdout) as {
      items: Array<{ id: string }>;
    };
    expect(list.items.map((s) => s.id)).toContain(id);
    expect(JSON.parse((await cli(['session', 'get', id, '--json'])).stdout)).toMatchObject({
      id,
      migrations: expect.any(Array),
    });

    expect(await cli(['exec', id, 'y = 5'])).toMatchObject({ code: 0 });
    expect(await cli(['exec', id, 'print(y * 2)'])).toMatchObject({ code: 0, stdout: '10\n' });
    expect((await cli(['exec', id, 'import sys; sys.exit(4)'])).code).toBe(4);
    const execJson = JSON.parse((await cli(['exec', id, 'print("j")', '--json'])).stdout) as Record<
      string,
      unknown
    >;
    expect(execJson).toMatchObject({ exitCode: 0, stdout: 'j\n' });

    const original = Buffer.concat([
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      randomBytes(200_000),
    ]);
    writeFileSync(join(dir, 'blob.bin'), original);
    expect((await cli(['cp', 'blob.bin', `${id}:data/blob.bin`])).code).toBe(0);
    const size = await cli(['exec', id, 'import os; print(os.path.getsize("data/blob.bin"))']);
    expect(size.stdout).toBe(`${original.length}\n`);
    expect((await cli(['cp', `${id}:data/blob.bin`, 'back.bin'])).code).toBe(0);
    expect(readFileSync(join(dir, 'back.bin')).equals(original)).toBe(true);
    const ls = JSON.parse((await cli(['ls', id, '--json'])).stdout) as {
      items: Array<{ path: string; size: number }>;
    };
    expect(ls.items).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'data/blob.bin', size: original.length })]),
    );

    expect(await cli(['session', 'rm', id])).toMatchObject({ code: 0, stdout: `removed ${id}\n` });
    const gone = await cli(['exec', id, 'print(1)']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^executor: not_found \(404\): /);
  });

  it('install: packages into a session (--json), then importable', async () => {
    const id = (await cli(['session', 'create', 'python'])).stdout.trim();
    const r = await cli(['install', id, 'sdktoy==1.0.0', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ installed: [expect.objectContaining({ version: '1.0.0' })] });
    expect(await cli(['exec', id, 'import sdktoy; print(sdktoy.VALUE)'])).toMatchObject({
      code: 0,
      stdout: '1.0.0\n',
    });
    expect((await cli(['session', 'rm', id])).code).toBe(0);
  });

  it('pools: table with health and circuit state; --json parses', async () => {
    const table = await cli(['pools']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME +TEMPLATE +REGION +WEIGHT +HEALTHY +CIRCUIT/);
    expect(table.stdout).toMatch(/\npython +python +- +1 +yes +closed +1 /);
    const json = JSON.parse((await cli(['pools', '--json'])).stdout) as {
      items: Array<{ name: string; healthy: boolean; circuit: string }>;
    };
    expect(json.items).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'python', healthy: true, circuit: 'closed' })]),
    );
  });

  it('API errors: exit 1 with a clear message; usage errors exit 2', async () => {
    const bad = await cli(['session', 'create', 'cobol']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^executor: invalid_argument \(400\): .+/);
    expect((await cli(['run', 'nope.xyz'])).code).toBe(2);
  });
});
