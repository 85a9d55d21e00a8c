import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import type Redis from 'ioredis';
import { chromium, type BrowserContext } from 'playwright-core';
import { AclUsers, QueueNames, podQueueName } from '@executor/queues';
import { uniquePrefix } from '@executor/testing';
import { ADMIN_KEY, AUTH_A, AUTH_ADMIN, KEY_A, startLb, testConfig } from './support/app';
import { ROOT, startExecutor, type Proc } from './support/harness';
import { startAclRedis, type AclRedis } from './support/redis-acl';

const CHROMIUM = '/usr/bin/chromium';

describe('queue admin UI (bull-board) at /admin/queues', () => {
  let acl: AclRedis;
  let client: Redis;
  let lb: Awaited<ReturnType<typeof startLb>>;
  let shown: Awaited<ReturnType<typeof startLb>>;
  let executor: Proc;
  let browser: BrowserContext | undefined;
  let profile: string;

  beforeAll(async () => {
    const prefix = uniquePrefix('adm');
    acl = await startAclRedis(prefix);
    client = acl.admin;
    executor = await startExecutor(client, { acl, pool: 'py', pod: 'py-0' });
    lb = await startLb(testConfig(acl.url(AclUsers.loadBalancer), prefix));
    shown = await startLb(
      testConfig(acl.url(AclUsers.loadBalancer), prefix, { ADMIN_UI_SESSION_DATA: 'shown' }),
    );
    await request(lb.url)
      .post('/v1/pools')
      .set(AUTH_ADMIN)
      .send({ name: 'py', template: 'python' })
      .expect(201);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await lb?.app.close();
    await shown?.app.close();
    await executor?.stop();
    await acl?.stop();
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

  it('a tenant key gets 403 on every admin UI route (page, API, actions), Bearer or basic auth', async () => {
    for (const path of [
      '/admin/queues',
      '/admin/queues/api/queues',
      `/admin/queues/api/queues/${podQueueName('py-0')}/workers`,
      '/admin/queues/api/redis/stats',
    ]) {
      const r = await request(lb.url).get(path).set(AUTH_A);
      expect({ path, status: r.status, code: r.body?.error?.code }).toEqual({
        path,
        status: 403,
        code: 'permission_denied',
      });
      await request(lb.url).get(path).auth('x', KEY_A).expect(403);
    }
    await request(lb.url)
      .put(`/admin/queues/api/queues/${QueueNames.sessionEvents}/pause`)
      .set(AUTH_A)
      .expect(403);
    await request(lb.url)
      .put(`/admin/queues/api/queues/${QueueNames.sessionEvents}/obliterate`)
      .auth('x', KEY_A)
      .expect(403);
  });

  it('redacts session code, env values and output in job data and results (unless configured to show them)', async () => {
    const s = (
      await request(lb.url)
        .post('/v1/sessions')
        .set(AUTH_A)
        .send({ template: 'python', env: { API_TOKEN: 'tenant-secret-env-value' } })
        .expect(201)
    ).body;
    await request(lb.url)
      .post(`/v1/sessions/${s.id}/executions`)
      .set(AUTH_A)
      .send({ code: 'print("tenant-secret-output")  # tenant-secret-code' })
      .expect(200);
    const queue = podQueueName(s.pod as string);
    const jobsOf = async (base: string): Promise<string> =>
      (
        await request(base)
          .get(`/admin/queues/api/queues?activeQueue=${queue}&status=latest&page=1&jobsPerPage=50`)
          .auth('ops', ADMIN_KEY)
          .expect(200)
      ).text;
    const redacted = await jobsOf(lb.url);
    expect(redacted).toContain('session.execute'); // the jobs are listed
    expect(redacted).toContain('API_TOKEN'); // env keys stay visible
    expect(redacted).toContain('[redacted');
    for (const secret of ['tenant-secret-env-value', 'tenant-secret-output', 'tenant-secret-code'])
      expect(redacted).not.toContain(secret);
    const open = await jobsOf(shown.url);
    for (const secret of ['tenant-secret-env-value', 'tenant-secret-output', 'tenant-secret-code'])
      expect(open).toContain(secret);
  });

  it('serves every platform queue, pod queues from heartbeats included (Bearer or basic auth)', async () => {
    await request(lb.url).get('/admin/queues').set(AUTH_ADMIN).expect(200).expect('content-type', /html/);
    const res = await request(lb.url).get('/admin/queues/api/queues').auth('admin', ADMIN_KEY).expect(200);
    const names = (res.body.queues as { name: string }[]).map((q) => q.name).sort();
    expect(names).toEqual([...Object.values(QueueNames), 'pod-py-0'].sort());
  });

  it('renders the queues in headless Chromium (screenshot in tmp/)', async () => {
    profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
    // A fresh profile dir (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      httpCredentials: { username: 'admin', password: ADMIN_KEY },
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
