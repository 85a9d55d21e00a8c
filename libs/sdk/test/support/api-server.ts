import type { ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { apiError, sendJson, startHttpServer, type RecordedRequest, type TestServer } from './http-server';

/**
 * An in-memory HTTP server that answers like the public API (API.md shapes and error format),
 * for testing the client and CLI logic while the real platform is not involved. Executions do not
 * run anything: stdout echoes `# out: <text>` lines of the code, stderr `# err: <text>`, and
 * `# exit: <n>` sets the exit code; `# sleep: <ms>` delays the answer.
 */
export interface FakeApi extends TestServer {
  key: string;
  sessions: Map<string, { info: Record<string, unknown>; files: Map<string, Buffer> }>;
}

export async function startFakeApi(key = 'test-key-123456'): Promise<FakeApi> {
  const server = await startHttpServer();
  const sessions: FakeApi['sessions'] = new Map();
  const pools = [
    {
      name: 'python',
      template: 'python',
      region: '',
      weight: 1,
      healthy: true,
      circuit: 'closed',
      pods: 2,
      sessions: 0,
      connections: 0,
      queueDepth: 0,
    },
    {
      name: 'node',
      template: 'node',
      region: 'eu',
      weight: 2,
      healthy: false,
      circuit: 'open',
      pods: 0,
      sessions: 0,
      connections: 0,
      queueDepth: 3,
    },
  ];
  server.handle(async (req, res) => {
    if (req.headers['authorization'] !== `Bearer ${key}`)
      return apiError(res, 401, 'unauthenticated', 'missing or unknown API key');
    await route(req, res, sessions, pools);
  });
  return Object.assign(server, { key, sessions });
}

async function route(
  req: RecordedRequest,
  res: ServerResponse,
  sessions: FakeApi['sessions'],
  pools: Array<Record<string, unknown>>,
): Promise<void> {
  const url = new URL(req.url, 'http://x');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const json = (): Record<string, unknown> =>
    JSON.parse(req.body.toString('utf8') || '{}') as Record<string, unknown>;
  if (parts[0] !== 'v1') return apiError(res, 404, 'not_found', 'no route');
  if (parts[1] === 'pools') {
    if (req.method === 'GET' && parts.length === 2) return sendJson(res, 200, { items: pools });
    const pool = pools.find((p) => p['name'] === parts[2]);
    if (!pool) return apiError(res, 404, 'not_found', `pool "${parts[2]}" not found`);
    return sendJson(res, 200, { ...pool, podDetails: [] });
  }
  if (parts[1] !== 'sessions') return apiError(res, 404, 'not_found', 'no route');
  if (parts.length === 2) {
    if (req.method === 'GET') return sendJson(res, 200, { items: [...sessions.values()].map((s) => s.info) });
    const body = json();
    if (!['python', 'node', 'bash'].includes(String(body['template'])))
      return apiError(
        res,
        400,
        'invalid_argument',
        `body/template: unknown template "${String(body['template'])}"`,
      );
    const id = `ses-${randomBytes(6).toString('hex')}`;
    const now = new Date();
    const info = {
      id,
      template: body['template'],
      pool: body['template'],
      pod: `${String(body['template'])}-abc123`,
      region: '',
      persist: body['persist'] ?? true,
      status: 'active',
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + Number(body['ttlSeconds'] ?? 300) * 1000).toISOString(),
      env: body['env'] ?? {},
      metadata: body['metadata'] ?? {},
    };
    sessions.set(id, { info, files: new Map() });
    return sendJson(res, 201, info);
  }
  const session = sessions.get(parts[2] as string);
  if (!session) return apiError(res, 404, 'not_found', `session "${parts[2]}" not found`);
  const sub = parts[3];
  if (!sub) {
    if (req.method === 'DELETE') {
      sessions.delete(parts[2] as string);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'PATCH')
      session.info['expiresAt'] = new Date(Date.now() + Number(json()['ttlSeconds']) * 1000).toISOString();
    return sendJson(res, 200, { ...session.info, migrations: [], lastSnapshotAt: null });
  }
  if (sub === 'executions' && req.method === 'POST') {
    const code = String(json()['code']);
    const lines = (re: RegExp): string => [...code.matchAll(re)].map((m) => `${m[1]}\n`).join('');
    const sleep = /# sleep: (\d+)/.exec(code);
    if (sleep) {
      // Ends early when the client goes away, so no timer outlives the test.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Number(sleep[1]));
        res.on('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const exit = /# exit: (\d+)/.exec(code);
    return sendJson(res, 200, {
      id: `exe-${randomBytes(4).toString('hex')}`,
      exitCode: exit ? Number(exit[1]) : 0,
      stdout: lines(/# out: (.*)/g),
      stderr: lines(/# err: (.*)/g),
      durationMs: 1.5,
      timedOut: /# timeout/.test(code),
      truncated: false,
    });
  }
  if (sub === 'files') {
    const path = parts.slice(4).join('/');
    if (!path && req.method === 'GET') {
      return sendJson(res, 200, {
        items: [...session.files].map(([p, b]) => ({
          path: p,
          size: b.length,
          modifiedAt: new Date(0).toISOString(),
        })),
      });
    }
    if (req.method === 'PUT') {
      session.files.set(path, req.body);
      res.writeHead(204).end();
      return;
    }
    const file = session.files.get(path);
    if (!file) return apiError(res, 404, 'not_found', `file "${path}" not found`);
    if (req.method === 'DELETE') {
      session.files.delete(path);
      res.writeHead(204).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.length });
    res.end(file);
    return;
  }
  if (sub === 'packages') {
    if (req.method === 'POST') {
      const pkgs = json()['packages'] as string[];
      return sendJson(res, 200, {
        installed: pkgs.map((p) => ({ name: p.split(/[=@]/)[0], version: '1.0.0' })),
      });
    }
    return sendJson(res, 200, { items: [] });
  }
  if (sub === 'persist') return sendJson(res, 200, { version: 1, bytes: 1234, at: new Date().toISOString() });
  if (sub === 'executions') return sendJson(res, 200, { items: [] });
  return apiError(res, 404, 'not_found', 'no route');
}
