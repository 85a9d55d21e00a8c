import {
  apiError,
  dropConnection,
  sendJson,
  startHttpServer,
  type TestServer,
} from '../../test/support/http-server';
import { startFakeApi, type FakeApi } from '../../test/support/api-server';
import { ExecutorClient, type ClientOptions } from './client';
import {
  AbortError,
  ConflictError,
  InternalError,
  InvalidArgumentError,
  NetworkError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  TimeoutError,
  UnauthenticatedError,
  UnavailableError,
} from './errors';
import type { RetryEvent } from './http';
import { SDK_VERSION } from './version';

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

describe('ExecutorClient over real HTTP', () => {
  let server: TestServer;
  const client = (opts: Partial<ClientOptions> = {}): ExecutorClient =>
    new ExecutorClient({ baseUrl: server.url + '/', apiKey: KEY, retryBaseDelayMs: 1, ...opts });

  beforeEach(async () => {
    server = await startHttpServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it('validates its options', () => {
    expect(() => new ExecutorClient({ baseUrl: 'nope', apiKey: KEY })).toThrow(InvalidArgumentError);
    expect(() => new ExecutorClient({ baseUrl: 'ftp://x', apiKey: KEY })).toThrow('must be http(s)');
    expect(() => new ExecutorClient({ baseUrl: 'http://x', apiKey: '' })).toThrow('apiKey is required');
    expect(() => new ExecutorClient({ baseUrl: 'http://x', apiKey: KEY, retries: -1 })).toThrow(
      'retries must be a number ≥ 0',
    );
    expect(() => new ExecutorClient({ baseUrl: 'http://x', apiKey: KEY, timeoutMs: 0 })).toThrow('timeoutMs');
  });

  it('creates a session: bearer key, JSON body without undefined fields, user agent, region header', async () => {
    server.handle((_req, res) => sendJson(res, 201, SESSION));
    const s = await client({ region: 'eu-west' }).createSession({
      template: 'python',
      ttlSeconds: 60,
      env: { A: '1' },
      persist: undefined,
    });
    expect(s.id).toBe('ses-1');
    expect(s.info).toEqual(SESSION);
    const req = server.requests[0];
    expect(req).toMatchObject({ method: 'POST', url: '/v1/sessions' });
    expect(req?.headers['authorization']).toBe(`Bearer ${KEY}`);
    expect(req?.headers['content-type']).toBe('application/json');
    expect(req?.headers['x-client-region']).toBe('eu-west');
    expect(req?.headers['user-agent']).toContain(`executor-sdk/${SDK_VERSION}`);
    expect(JSON.parse(req?.body.toString() ?? '')).toEqual({
      template: 'python',
      ttlSeconds: 60,
      env: { A: '1' },
    });
  });

  it('calls every endpoint with the method, path and body of API.md', async () => {
    server.handle((req, res) => {
      const route = `${req.method} ${req.url}`;
      if (req.method === 'DELETE' || req.method === 'PUT') return void res.writeHead(204).end();
      if (route === 'GET /v1/sessions/ses-1/files/dir/a%20b.bin')
        return void res.writeHead(200).end(Buffer.from([0, 255, 10]));
      const answers: Record<string, unknown> = {
        'POST /v1/sessions': SESSION,
        'GET /v1/sessions': { items: [SESSION] },
        'GET /v1/sessions/ses-1': { ...SESSION, migrations: [], lastSnapshotAt: null },
        'PATCH /v1/sessions/ses-1': { ...SESSION, expiresAt: '2026-01-01T01:00:00.000Z' },
        'POST /v1/sessions/ses-1/persist': { version: 3, bytes: 10, at: 'now' },
        'POST /v1/sessions/ses-1/executions': {
          id: 'e',
          exitCode: 0,
          stdout: '2\n',
          stderr: '',
          durationMs: 1,
          timedOut: false,
          truncated: false,
        },
        'GET /v1/sessions/ses-1/executions': {
          items: [{ id: 'e', code: '1+1', exitCode: 0, durationMs: 1, at: 'now' }],
        },
        'GET /v1/sessions/ses-1/files': { items: [{ path: 'dir/a b.bin', size: 3, modifiedAt: 'now' }] },
        'POST /v1/sessions/ses-1/packages': { installed: [{ name: 'requests', version: '2.31.0' }] },
        'GET /v1/sessions/ses-1/packages': {
          items: [{ manager: 'pip', name: 'requests', version: '2.31.0' }],
        },
        'GET /v1/pools': { items: [{ name: 'python' }] },
        'GET /v1/pools/python': { name: 'python', podDetails: [] },
        'POST /v1/pools': { name: 'gpu' },
      };
      if (!(route in answers)) return apiError(res, 404, 'not_found', route);
      sendJson(
        res,
        route.startsWith('POST /v1/sessions') && route.length === 'POST /v1/sessions'.length ? 201 : 200,
        answers[route],
      );
    });
    const c = client();
    const s = await c.createSession({ template: 'python' });
    expect((await c.getSession('ses-1')).info.migrations).toEqual([]);
    expect((await c.listSessions()).map((x) => x.id)).toEqual(['ses-1']);
    expect(await s.execute('1+1', { timeoutMs: 5000, language: 'python', env: { X: 'y' } })).toMatchObject({
      stdout: '2\n',
    });
    expect(await s.executions()).toHaveLength(1);
    await s.files.write('dir/a b.bin', new Uint8Array([0, 255, 10]));
    expect([...(await s.files.read('dir/a b.bin'))]).toEqual([0, 255, 10]);
    expect(await s.files.list()).toEqual([{ path: 'dir/a b.bin', size: 3, modifiedAt: 'now' }]);
    await s.files.remove('dir/a b.bin');
    expect(await s.packages.install(['requests==2.31.0'], { manager: 'pip' })).toEqual([
      { name: 'requests', version: '2.31.0' },
    ]);
    expect(await s.packages.list()).toHaveLength(1);
    expect(await s.persist()).toEqual({ version: 3, bytes: 10, at: 'now' });
    expect((await s.extend(3600)).expiresAt).toBe('2026-01-01T01:00:00.000Z');
    expect(s.info.expiresAt).toBe('2026-01-01T01:00:00.000Z');
    expect((await s.refresh()).lastSnapshotAt).toBeNull();
    expect(await c.pools.list()).toEqual([{ name: 'python' }]);
    expect(await c.pools.get('python')).toEqual({ name: 'python', podDetails: [] });
    expect(await c.pools.register({ name: 'gpu', template: 'python', weight: 2 })).toEqual({ name: 'gpu' });
    await c.pools.deregister('gpu');
    await c.deleteSession('ses-1');
    await s.close();
    const seen = server.requests.map((r) => `${r.method} ${r.url}`);
    expect(seen).toEqual([
      'POST /v1/sessions',
      'GET /v1/sessions/ses-1',
      'GET /v1/sessions',
      'POST /v1/sessions/ses-1/executions',
      'GET /v1/sessions/ses-1/executions',
      'PUT /v1/sessions/ses-1/files/dir/a%20b.bin',
      'GET /v1/sessions/ses-1/files/dir/a%20b.bin',
      'GET /v1/sessions/ses-1/files',
      'DELETE /v1/sessions/ses-1/files/dir/a%20b.bin',
      'POST /v1/sessions/ses-1/packages',
      'GET /v1/sessions/ses-1/packages',
      'POST /v1/sessions/ses-1/persist',
      'PATCH /v1/sessions/ses-1',
      'GET /v1/sessions/ses-1',
      'GET /v1/pools',
      'GET /v1/pools/python',
      'POST /v1/pools',
      'DELETE /v1/pools/gpu',
      'DELETE /v1/sessions/ses-1',
      'DELETE /v1/sessions/ses-1',
    ]);
    const body = (i: number): unknown => JSON.parse(server.requests[i]?.body.toString() ?? '');
    expect(body(3)).toEqual({ code: '1+1', timeoutMs: 5000, language: 'python', env: { X: 'y' } });
    expect(server.requests[5]?.headers['content-type']).toBe('application/octet-stream');
    expect(body(9)).toEqual({ packages: ['requests==2.31.0'], manager: 'pip' });
    expect(body(12)).toEqual({ ttlSeconds: 3600 });
    expect(body(16)).toEqual({ name: 'gpu', template: 'python', weight: 2 });
  });

  it('close() is idempotent, ignores a session that is already gone, and runs on `await using`', async () => {
    let deletes = 0;
    server.handle((req, res) => {
      if (req.method === 'POST') return sendJson(res, 201, SESSION);
      deletes++;
      return deletes === 1 ? void res.writeHead(204).end() : apiError(res, 404, 'not_found', 'gone');
    });
    const c = client();
    {
      await using s = await c.createSession({ template: 'python' });
      expect(s.id).toBe('ses-1');
      expect(deletes).toBe(0);
    }
    expect(deletes).toBe(1);
    const s2 = await c.createSession({ template: 'python' });
    await s2.close(); // 404: already gone
    await s2.close(); // no request
    expect(deletes).toBe(2);
    await expect(c.deleteSession('ses-1')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('transfers every byte value unchanged (binary-safe files)', async () => {
    const stored = new Map<string, Buffer>();
    server.handle((req, res) => {
      if (req.method === 'PUT') {
        stored.set(req.url, req.body);
        return void res.writeHead(204).end();
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(stored.get(req.url));
    });
    const s = await sessionOn(client());
    const bytes = new Uint8Array(256 * 4).map((_, i) => (i * 7) % 256);
    await s.files.write('bin/all.bytes', bytes);
    expect(Buffer.from(await s.files.read('bin/all.bytes')).equals(Buffer.from(bytes))).toBe(true);
    await s.files.write('t.txt', 'héllo ✓');
    expect(await s.files.readText('t.txt')).toBe('héllo ✓');
    await s.files.write('buf.bin', Buffer.from([1, 2, 3]).subarray(1));
    expect([...(stored.get('/v1/sessions/ses-1/files/buf.bin') ?? [])]).toEqual([2, 3]);
    await expect(s.files.write('../escape', 'x')).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  describe('errors', () => {
    it.each([
      [400, 'invalid_argument', InvalidArgumentError],
      [401, 'unauthenticated', UnauthenticatedError],
      [404, 'not_found', NotFoundError],
      [409, 'conflict', ConflictError],
      [413, 'payload_too_large', PayloadTooLargeError],
      [500, 'internal', InternalError],
    ] as const)('HTTP %i %s → %p, not retried', async (status, code, Ctor) => {
      server.handle((_req, res) => apiError(res, status, code, `because ${code}`));
      const err = await client({ retries: 3 })
        .pools.get('p')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Ctor);
      expect(err).toMatchObject({ status, code, message: `because ${code}`, request: 'GET /v1/pools/p' });
      expect(server.requests).toHaveLength(1);
    });

    it('a body that is not JSON on a 2xx is an error that says so', async () => {
      server.handle((_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>'));
      await expect(client().pools.list()).rejects.toThrow('a body that is not JSON');
    });
  });

  describe('retries', () => {
    it('retries a 503 after retryAfterSeconds, even for an execution POST, and reports each retry', async () => {
      let n = 0;
      server.handle((_req, res) => {
        n++;
        if (n === 1)
          return apiError(
            res,
            503,
            'unavailable',
            'no healthy pod',
            { retryAfterSeconds: 1 },
            { 'retry-after': '1' },
          );
        if (n === 2) return apiError(res, 503, 'unavailable', 'no healthy pod', { retryAfterSeconds: 0 });
        sendJson(res, 200, {
          id: 'e',
          exitCode: 0,
          stdout: '',
          stderr: '',
          durationMs: 1,
          timedOut: false,
          truncated: false,
        });
      });
      const events: RetryEvent[] = [];
      const s = await sessionOn(client({ onRetry: (e) => events.push(e) }));
      const started = Date.now();
      const res = await s.execute('print(1)');
      expect(res.id).toBe('e');
      expect(Date.now() - started).toBeGreaterThanOrEqual(950); // the 1 s hint was honoured (lower bound only)
      expect(events.map((e) => [e.attempt, e.delayMs, e.error.code, e.method])).toEqual([
        [1, 1000, 'unavailable', 'POST'],
        [2, 0, 'unavailable', 'POST'],
      ]);
      expect(server.requests).toHaveLength(3);
    });

    it('uses the Retry-After header when the body has no hint, and 429 is retried too', async () => {
      let n = 0;
      server.handle((_req, res) => {
        n++;
        if (n === 1) return apiError(res, 429, 'rate_limited', 'slow down', {}, { 'retry-after': '0' });
        sendJson(res, 200, { items: [] });
      });
      const events: RetryEvent[] = [];
      await expect(client({ onRetry: (e) => events.push(e) }).pools.list()).resolves.toEqual([]);
      expect(events.map((e) => e.delayMs)).toEqual([0]);
    });

    it('gives up after `retries` and throws the last UnavailableError with its hint', async () => {
      server.handle((_req, res) => apiError(res, 503, 'unavailable', 'no pool', { retryAfterSeconds: 0 }));
      const err = (await client({ retries: 2 })
        .createSession({ template: 'python' })
        .catch((e: unknown) => e)) as UnavailableError;
      expect(err).toBeInstanceOf(UnavailableError);
      expect(err.retryAfterSeconds).toBe(0);
      expect(server.requests).toHaveLength(3);
    });

    it('does not wait for a Retry-After longer than maxRetryDelayMs', async () => {
      server.handle((_req, res) => apiError(res, 503, 'unavailable', 'later', { retryAfterSeconds: 60 }));
      await expect(client({ maxRetryDelayMs: 5000 }).pools.list()).rejects.toMatchObject({
        code: 'unavailable',
        retryAfterSeconds: 60,
      });
      expect(server.requests).toHaveLength(1);
    });

    it('retries idempotent calls after a dropped connection', async () => {
      let n = 0;
      server.handle((req, res, raw) => {
        n++;
        if (n <= 2) return dropConnection(raw);
        if (req.method === 'PUT' || req.method === 'DELETE') return void res.writeHead(204).end();
        sendJson(res, 200, { items: [{ name: 'python' }] });
      });
      const events: RetryEvent[] = [];
      await expect(client({ onRetry: (e) => events.push(e) }).pools.list()).resolves.toEqual([
        { name: 'python' },
      ]);
      expect(events.map((e) => e.error.code)).toEqual(['network_error', 'network_error']);
      n = 0;
      const s = await sessionOn(client());
      n = 0;
      await s.files.write('a.txt', 'x');
      expect(server.requests.filter((r) => r.method === 'PUT')).toHaveLength(3);
    });

    it('re-sends a POST after a dropped connection with the same Idempotency-Key (the server runs it once)', async () => {
      server.handle((_req, _res, raw) => dropConnection(raw));
      const s = await sessionOn(client({ retries: 2 }));
      const err = await s.execute('x = 1').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NetworkError);
      expect((err as NetworkError).message).toMatch(/POST \/v1\/sessions\/ses-1\/executions/);
      const posts = server.requests.filter((r) => r.method === 'POST');
      expect(posts).toHaveLength(3);
      const keys = posts.map((r) => r.headers['idempotency-key']);
      expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Set(keys).size).toBe(1);
      // Each call has its own key; a caller may choose it.
      server.requests.length = 0;
      await s.execute('x = 2', { retries: 0 }).catch(() => undefined);
      await s.execute('x = 3', { retries: 0, idempotencyKey: 'my-job-42' }).catch(() => undefined);
      const [k2, k3] = server.requests.map((r) => r.headers['idempotency-key']);
      expect(k2).not.toBe(keys[0]);
      expect(k3).toBe('my-job-42');
      // GET/PUT/DELETE carry none.
      server.requests.length = 0;
      await client({ retries: 0 })
        .pools.list()
        .catch(() => undefined);
      expect(server.requests[0]?.headers['idempotency-key']).toBeUndefined();
    });

    it('retries a 504 for GET but not for POST', async () => {
      server.handle((_req, res) => apiError(res, 504, 'timeout', 'platform too slow'));
      await expect(client({ retries: 1 }).listSessions()).rejects.toBeInstanceOf(TimeoutError);
      expect(server.requests).toHaveLength(2);
      await expect(
        client({ retries: 1 }).pools.register({ name: 'a', template: 'python' }),
      ).rejects.toMatchObject({ status: 504 });
      expect(server.requests).toHaveLength(3);
    });

    it('a connection refused is a NetworkError naming the URL', async () => {
      const url = server.url;
      await server.close();
      const err = await new ExecutorClient({
        baseUrl: url,
        apiKey: KEY,
        retries: 1,
        retryBaseDelayMs: 1,
      }).pools
        .list()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NetworkError);
      expect((err as NetworkError).message).toContain('ECONNREFUSED');
      expect((err as NetworkError).message).toContain(url);
      server = await startHttpServer();
    });
  });

  describe('timeouts and abort', () => {
    it('times out a request that gets no answer (client-side TimeoutError, status 0, not retried)', async () => {
      server.handle(() => undefined); // never answers
      const err = await client({ timeoutMs: 200, retries: 3 })
        .pools.list()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TimeoutError);
      expect(err).toMatchObject({ status: 0, code: 'timeout' });
      expect((err as Error).message).toContain('no answer within 200 ms');
      expect(server.requests).toHaveLength(1);
    });

    it('per-call requestTimeoutMs overrides the client default', async () => {
      server.handle(() => undefined);
      await expect(
        client({ timeoutMs: 60_000 }).pools.list({ requestTimeoutMs: 100 }),
      ).rejects.toBeInstanceOf(TimeoutError);
    });

    it('aborts an in-flight call with AbortError', async () => {
      const ctrl = new AbortController();
      server.handle(() => ctrl.abort(new Error('user gave up')));
      const s = await sessionOn(client());
      const err = await s.execute('while True: pass', { signal: ctrl.signal }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AbortError);
      expect(err).toMatchObject({ code: 'aborted', status: 0 });
    });

    it('aborts during the wait between retries', async () => {
      const ctrl = new AbortController();
      server.handle((_req, res) => {
        apiError(res, 503, 'unavailable', 'wait', { retryAfterSeconds: 20 });
      });
      const c = client({ onRetry: () => ctrl.abort() });
      const started = Date.now();
      await expect(c.pools.list({ signal: ctrl.signal })).rejects.toBeInstanceOf(AbortError);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(server.requests).toHaveLength(1);
    });

    it('sends nothing when the signal is already aborted', async () => {
      await expect(client().listSessions({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
      expect(server.requests).toHaveLength(0);
    });
  });

  describe('against an API-shaped server', () => {
    let api: FakeApi;
    beforeEach(async () => {
      api = await startFakeApi(KEY);
    });
    afterEach(async () => {
      await api.close();
    });

    it('a wrong key is UnauthenticatedError; an unknown session NotFoundError; RateLimitedError keeps its hint', async () => {
      await expect(
        new ExecutorClient({ baseUrl: api.url, apiKey: 'wrong-key-000' }).listSessions(),
      ).rejects.toBeInstanceOf(UnauthenticatedError);
      const c = new ExecutorClient({ baseUrl: api.url, apiKey: KEY });
      await expect(c.getSession('ses-nope')).rejects.toThrow('session "ses-nope" not found');
      await expect(c.createSession({ template: 'cobol' })).rejects.toBeInstanceOf(InvalidArgumentError);
      const rl = new RateLimitedError('x', { status: 429, retryAfterSeconds: 2 });
      expect(rl.retryAfterSeconds).toBe(2);
    });
  });
});

/** A Session object bound to `c` (the server answers the creation with SESSION). */
async function sessionOn(c: ExecutorClient): Promise<import('./session').Session> {
  const { Session } = await import('./session');
  return new Session((c as unknown as { http: ConstructorParameters<typeof Session>[0] }).http, {
    ...SESSION,
  });
}
