// The platform as `npm start` starts it (built bundles, real Redis, real executors in bwrap).
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey } from './keys';
import { Platform } from './platform';

const ROOT = join(__dirname, '..', '..', '..', '..');

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'launcher-platform-'));
  chmodSync(d, 0o755); // sessions run under their own uids and traverse it
  return d;
}

async function json<T>(
  url: string,
  key: string,
  init: RequestInit = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    ...init,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...init.headers },
  });
  return { status: res.status, body: (await res.json()) as T };
}

describe('Platform (what npm start runs)', () => {
  describe('by default', () => {
    let dir: string;
    let platform: Platform;
    beforeAll(async () => {
      dir = dataDir();
      platform = await Platform.start({
        rootDir: ROOT,
        dataDir: dir,
        lbPorts: [0],
        apiKeys: generateKey('acme'),
        adminKeys: generateKey('admin'),
        pools: [
          { name: 'py', template: 'python', replicas: 1 },
          // python-data cannot import pandas in 16 MiB: its boot smoke test fails
          { name: 'broken', template: 'python-data', replicas: 1, env: { MEMORY_LIMIT_MB: '16' } },
        ],
        output: 'file',
      });
    }, 180_000);
    afterAll(async () => {
      await platform?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('runs every executor in the bwrap sandbox', async () => {
      expect(platform.sandbox).toBe('bwrap');
      for (const e of platform.executors()) {
        const ready = await fetch(`http://127.0.0.1:${e.port}/health/ready`);
        const body = (await ready.json()) as { details: { sandbox: { mode: string } } };
        expect(body.details.sandbox.mode).toBe('bwrap');
      }
    });

    it('shows a pool whose smoke test failed as unhealthy with the reason, per pool and per pod, and routes no session to it', async () => {
      const [py, broken] = [platform.executors('py')[0], platform.executors('broken')[0]];
      expect(py).toMatchObject({ healthy: true });
      expect(broken).toMatchObject({ healthy: false, reason: expect.stringMatching(/smoke test failed/) });

      const base = platform.urls[0] as string;
      const list = await json<{ items: Array<{ name: string; healthy: boolean; reason?: string }> }>(
        `${base}/v1/pools`,
        platform.apiKey,
      );
      expect(list.status).toBe(200);
      const byName = Object.fromEntries(list.body.items.map((p) => [p.name, p]));
      expect(byName['py']).toMatchObject({ healthy: true });
      expect(byName['py']?.reason).toBeUndefined();
      expect(byName['broken']).toMatchObject({
        healthy: false,
        reason: expect.stringMatching(
          /^pod broken-[0-9a-f]+ is not healthy: template python-data: smoke test failed: /,
        ),
      });

      const one = await json<{ podDetails: Array<{ healthy: boolean; reason?: string }> }>(
        `${base}/v1/pools/broken`,
        platform.apiKey,
      );
      expect(one.body.podDetails).toEqual([
        expect.objectContaining({ healthy: false, reason: expect.stringMatching(/smoke test failed/) }),
      ]);

      const open = await json<{ error: { code: string; message: string } }>(
        `${base}/v1/sessions`,
        platform.apiKey,
        {
          method: 'POST',
          body: JSON.stringify({ template: 'python-data' }),
        },
      );
      expect(open.status).toBe(503);
      expect(open.body.error.message).toMatch(
        /pool broken: pod broken-[0-9a-f]+ is not healthy: .*smoke test failed/,
      );
    });
  });

  describe('with SANDBOX=none asked for', () => {
    let dir: string;
    let platform: Platform;
    beforeAll(async () => {
      dir = dataDir();
      platform = await Platform.start({
        rootDir: ROOT,
        dataDir: dir,
        lbPorts: [0],
        apiKeys: generateKey('acme'),
        pools: [{ name: 'sh', template: 'bash', replicas: 1 }],
        sandbox: 'none',
        output: 'file',
      });
    }, 180_000);
    afterAll(async () => {
      await platform?.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('runs without the sandbox, and every executor warns about it at WARN', async () => {
      const [e] = platform.executors();
      const body = (await (await fetch(`http://127.0.0.1:${e?.port}/health/ready`)).json()) as {
        details: { sandbox: { mode: string; warnings: string[] } };
      };
      expect(body.details.sandbox.mode).toBe('none');
      expect(body.details.sandbox.warnings).toEqual(
        expect.arrayContaining([expect.stringContaining('SANDBOX=none')]),
      );
      const logs = join(dir, 'logs');
      const log = readdirSync(logs)
        .filter((f) => f.startsWith('sh-'))
        .map((f) => readFileSync(join(logs, f), 'utf8'))
        .join('\n');
      expect(log).toMatch(/WARN.*SANDBOX=none: session code runs as plain/);
    });
  });
});
