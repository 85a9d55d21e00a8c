import type { ServerResponse } from 'node:http';
import { sendJson, startHttpServer, type TestServer } from '../../test/support/http-server';
import { ExecutorClient } from './client';
import { NotFoundError, UnavailableError } from './errors';
import type { Session } from './session';

const KEY = 'k-0123456789';
const SESSION = {
  id: 'ses-1',
  template: 'python',
  pool: 'python',
  pod: 'python-abc',
  region: '',
  persist: true,
  status: 'active',
  createdAt: '2026-01-01T00:00:00.000Z',
  expiresAt: '2026-01-01T00:05:00.000Z',
  env: {},
  metadata: {},
};

/** Streams NDJSON lines; each waits for `gate(i)` before it is written (so the test sees them arrive one by one). */
function streamLines(res: ServerResponse, lines: object[], gate: (i: number) => Promise<void>): void {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  res.flushHeaders();
  void (async () => {
    for (const [i, l] of lines.entries()) {
      await gate(i);
      // a line split across two writes must still come out whole
      const text = `${JSON.stringify(l)}\n`;
      res.write(text.slice(0, 5));
      res.write(text.slice(5));
    }
    res.end();
  })();
}

describe('streamed executions and commands (real HTTP)', () => {
  let server: TestServer;
  let session: Session;
  const client = (): ExecutorClient => new ExecutorClient({ baseUrl: server.url, apiKey: KEY, retries: 0 });

  beforeAll(async () => {
    server = await startHttpServer();
  });
  afterAll(async () => server.close());
  beforeEach(async () => {
    server.handle((_req, res) => sendJson(res, 201, SESSION));
    session = await client().createSession({ template: 'python' });
  });

  it('calls onStdout as each chunk arrives, before the execution ends, and returns the end', async () => {
    let release!: () => void;
    const second = new Promise<void>((r) => (release = r));
    const end = {
      id: 'e1',
      exitCode: 0,
      stdout: 'a\nb\n',
      stderr: '',
      durationMs: 1000,
      timedOut: false,
      truncated: false,
      at: 'now',
      results: [{ isMain: true, 'text/plain': '42' }],
      executionCount: 3,
    };
    server.handle((req, res) => {
      expect(req.headers['accept']).toBe('application/x-ndjson');
      expect(JSON.parse(req.body.toString())).toEqual({ code: 'x', context: 'c1' });
      streamLines(
        res,
        [
          { type: 'stdout', text: 'a\n', ts: 1 },
          { type: 'result', isMain: false, 'image/png': 'iVBOR' },
          { type: 'stdout', text: 'b\n', ts: 2 },
          { type: 'end', ...end },
        ],
        (i) => (i === 2 ? second : Promise.resolve()),
      );
    });
    const seen: string[] = [];
    const results: unknown[] = [];
    const done = session.execute('x', {
      context: 'c1',
      onStdout: (t) => {
        seen.push(t);
        if (t === 'a\n') release(); // the second chunk is only sent once the first was seen
      },
      onResult: (r) => void results.push(r),
    });
    const r = await done;
    expect(seen).toEqual(['a\n', 'b\n']);
    expect(results).toEqual([{ isMain: false, 'image/png': 'iVBOR' }]);
    expect(r).toMatchObject({ id: 'e1', executionCount: 3, results: [{ isMain: true, 'text/plain': '42' }] });
  });

  it('yields events from executeStream and maps a failure in the end event and HTTP errors', async () => {
    server.handle((_req, res) =>
      streamLines(
        res,
        [
          { type: 'stderr', text: 'w', ts: 1 },
          { type: 'error', name: 'ValueError', value: 'bad', traceback: 'tb' },
          { type: 'end', error: { code: 'unavailable', message: 'pod lost', retryAfterSeconds: 1 } },
        ],
        () => Promise.resolve(),
      ),
    );
    const types: string[] = [];
    await expect(
      (async () => {
        for await (const e of session.executeStream('x')) types.push(e.type);
      })(),
    ).rejects.toThrow(UnavailableError);
    expect(types).toEqual(['stderr', 'error']);
    server.handle((_req, res) =>
      sendJson(res, 404, { error: { code: 'not_found', message: 'session "x" not found' } }),
    );
    await expect(session.execute('x', { onStdout: () => undefined })).rejects.toThrow(NotFoundError);
  });

  it('runs commands with streamed output and collects the end', async () => {
    server.handle((req, res) => {
      expect(JSON.parse(req.body.toString())).toEqual({ cmd: 'echo hi', envs: { A: '1' } });
      streamLines(
        res,
        [
          { type: 'start', pid: 7 },
          { type: 'stdout', data: 'aGkK', text: 'hi\n' },
          { type: 'end', exitCode: 3, exited: true, status: 'exit status 3' },
        ],
        () => Promise.resolve(),
      );
    });
    const out: string[] = [];
    const r = await session.commands.run('echo hi', { envs: { A: '1' }, onStdout: (t) => void out.push(t) });
    expect(out).toEqual(['hi\n']);
    expect(r).toEqual({
      pid: 7,
      exitCode: 3,
      exited: true,
      status: 'exit status 3',
      stdout: 'hi\n',
      stderr: '',
    });
    server.handle((req, res) => {
      expect(req.url).toBe('/v1/sessions/ses-1/commands/7/stdin');
      expect(JSON.parse(req.body.toString())).toEqual({ base64: Buffer.from([0, 1]).toString('base64') });
      res.writeHead(204).end();
    });
    await session.commands.sendStdin(7, new Uint8Array([0, 1]));
  });
});
