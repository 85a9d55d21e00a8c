import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type Redis from 'ioredis';
import { chromium, type BrowserContext } from 'playwright-core';
import { QueueNames, createRedis } from '@executor/queues';
import { startRedis, uniquePrefix, type TestRedis } from '@executor/testing';
import { AUTH_A, KEY_A, startLb, testConfig } from './support/app';
import { ROOT, startExecutor, type Proc } from './support/harness';

const CHROMIUM = '/usr/bin/chromium';

describe('queue admin UI (bull-board) at /admin/queues', () => {
  let redis: TestRedis;
  let client: Redis;
  let lb: Awaited<ReturnType<typeof startLb>>;
  let executor: Proc;
  let browser: BrowserContext | undefined;
  let profile: string;

  beforeAll(async () => {
    redis = await startRedis();
    client = createRedis(redis.url);
    const prefix = uniquePrefix('adm');
    executor = await startExecutor(client, { redisUrl: redis.url, prefix, pool: 'py', pod: 'py-0' });
    lb = await startLb(testConfig(redis.url, prefix));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await lb?.app.close();
    await executor?.stop();
    client?.disconnect();
    await redis?.stop();
  });

  it('asks a browser for basic auth and refuses wrong keys', async () => {
    const res = await request(lb.url).get('/admin/queues').expect(401);
    expect(res.headers['www-authenticate']).toMatch(/^Basic realm=/);
    expect(res.body.error.code).toBe('unauthenticated');
    await request(lb.url).get('/admin/queues').auth('admin', 'wrong-key-xyz').expect(401);
    await request(lb.url)
      .get('/admin/queues/api/queues')
      .set({ authorization: 'Bearer nope-nope-nope' })
      .expect(401);
  });

  it('serves every platform queue, pod queues from heartbeats included (Bearer or basic auth)', async () => {
    await request(lb.url).get('/admin/queues').set(AUTH_A).expect(200).expect('content-type', /html/);
    const res = await request(lb.url).get('/admin/queues/api/queues').auth('admin', KEY_A).expect(200);
    const names = (res.body.queues as { name: string }[]).map((q) => q.name).sort();
    expect(names).toEqual([...Object.values(QueueNames), 'pod-py-0'].sort());
  });

  it('renders the queues in headless Chromium (screenshot in tmp/)', async () => {
    profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
    // A fresh profile dir (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      httpCredentials: { username: 'admin', password: KEY_A },
      viewport: { width: 1400, height: 1000 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const page = await browser.newPage();
    await page.goto(`${lb.url}/admin/queues`, { waitUntil: 'networkidle' });
    for (const name of [
      QueueNames.sessionEvents,
      QueueNames.podEvents,
      QueueNames.poolRegistry,
      'pod-py-0',
    ]) {
      await page.getByText(name, { exact: true }).first().waitFor({ state: 'visible', timeout: 15_000 });
    }
    const dir = join(ROOT, 'tmp', 'load-balancer');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'admin-queues.png');
    await page.screenshot({ path: file, fullPage: true });
    expect(statSync(file).size).toBeGreaterThan(10_000);
    const text = await page.innerText('body');
    for (const name of Object.values(QueueNames)) expect(text).toContain(name);
    expect(text).toContain('pod-py-0');
  });
});
