import { file, makeState, snapshot, startHarness, type Harness } from '../../../test/harness';

describe('internal HTTP API, health and metrics', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness();
    await snapshot(h, makeState('http-1', [file('a.txt', 'hello '.repeat(1000)), file('b.txt', 'b')]), {
      trigger: 'periodic',
    });
    await snapshot(h, makeState('http-1', [file('a.txt', 'hello '.repeat(1000)), file('b.txt', 'bb')]), {
      trigger: 'shutdown',
    });
    await snapshot(h, makeState('http-2', [file('a.txt', 'hello '.repeat(1000))]));
  });
  afterAll(() => h.close());

  it('GET /internal/sessions/:id lists versions with sizes and metadata', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/internal/sessions/http-1' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({
      sessionId: 'http-1',
      tenant: 'acme',
      pool: 'python',
      pod: 'python-0',
      latest: 2,
    });
    expect(body.versions.map((v: { version: number; trigger: string }) => [v.version, v.trigger])).toEqual([
      [2, 'shutdown'],
      [1, 'periodic'],
    ]);
    expect(body.versions[0]).toMatchObject({ files: 2, bytes: 6002 });
    expect(body.versions[0].manifestBytes).toBeGreaterThan(0);
  });

  it('GET /internal/stats shows logical vs physical bytes and the blob count', async () => {
    const body = (await h.app.inject({ method: 'GET', url: '/internal/stats' })).json();
    expect(body).toMatchObject({ sessions: 2, versions: 3, blobs: 3, logicalBytes: 6001 + 6002 + 6000 });
    expect(body.physicalBytes).toBeLessThan(body.logicalBytes);
    expect(body.ratio).toBeGreaterThan(1);
  });

  it('DELETE /internal/sessions/:id answers 204, then 404 as JSON errors', async () => {
    expect((await h.app.inject({ method: 'DELETE', url: '/internal/sessions/http-2' })).statusCode).toBe(204);
    const again = await h.app.inject({ method: 'DELETE', url: '/internal/sessions/http-2' });
    expect(again.statusCode).toBe(404);
    expect(again.json()).toEqual({
      error: { code: 'not_found', message: 'no stored state for session http-2' },
    });
    const get = await h.app.inject({ method: 'GET', url: '/internal/sessions/http-2' });
    expect(get.statusCode).toBe(404);
    const bad = await h.app.inject({ method: 'GET', url: '/internal/sessions/bad%20id' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('invalid_argument');
  });

  it('answers /internal/* to loopback peers only when no token is set', async () => {
    const remote = await h.app.inject({ method: 'GET', url: '/internal/stats', remoteAddress: '10.1.2.3' });
    expect(remote.statusCode).toBe(403);
    expect(remote.json().error.code).toBe('permission_denied');
    const v6 = await h.app.inject({ method: 'GET', url: '/internal/stats', remoteAddress: 'fd00::1' });
    expect(v6.statusCode).toBe(403);
    // Health and metrics stay reachable for probes and Prometheus.
    expect(
      (await h.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '10.1.2.3' })).statusCode,
    ).toBe(200);
  });

  it('serves /health/live, /health/ready and /metrics with the persistence metrics', async () => {
    expect((await h.app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'GET', url: '/health/ready' })).statusCode).toBe(200);
    const text = (await h.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/persistence_snapshots_total\{trigger="periodic",outcome="ok"\} 1/);
    expect(text).toMatch(/persistence_snapshots_total\{trigger="shutdown",outcome="ok"\} 1/);
    expect(text).toMatch(/persistence_snapshot_duration_seconds_bucket/);
    expect(text).toMatch(/persistence_logical_bytes \d+/);
    expect(text).toMatch(/persistence_physical_bytes \d+/);
    expect(text).toMatch(/persistence_blobs \d+/);
  });
});

describe('internal HTTP API with INTERNAL_API_TOKEN', () => {
  const TOKEN = 'internal-token-0123456789abcdef0123456789';
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ INTERNAL_API_TOKEN: TOKEN });
  });
  afterAll(() => h.close());

  it('needs the token from anywhere, loopback included', async () => {
    expect((await h.app.inject({ method: 'GET', url: '/internal/stats' })).statusCode).toBe(401);
    const wrong = await h.app.inject({
      method: 'GET',
      url: '/internal/stats',
      headers: { authorization: `Bearer ${TOKEN}x` },
    });
    expect(wrong.statusCode).toBe(401);
    const ok = await h.app.inject({
      method: 'GET',
      url: '/internal/stats',
      remoteAddress: '10.1.2.3',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(ok.statusCode).toBe(200);
  });
});
