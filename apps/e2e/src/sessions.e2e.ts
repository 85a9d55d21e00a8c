// Sessions through the public API against the platform as `npm start` runs it, with two
// load-balancer replicas: stateful kernels, files, packages, TTL expiry, replica equivalence.
import { randomBytes } from 'node:crypto';
import { eventually, startTestPlatform } from './support/platform';
import { buildWheelDir } from '@executor/testing';
import type { Api, Session } from './support/api';

describe('sessions end to end (two load-balancer replicas)', () => {
  let env: Awaited<ReturnType<typeof startTestPlatform>>;
  let a: Api;
  let b: Api;
  let wheels: string;

  beforeAll(async () => {
    wheels = buildWheelDir('e2etoy==1.2.3');
    env = await startTestPlatform(
      [
        { name: 'python', template: 'python', replicas: 2 },
        { name: 'node', template: 'node', replicas: 1 },
      ],
      {
        lbPorts: [0, 0],
        env: {
          executor: { PIP_FIND_LINKS: wheels, PIP_NO_INDEX: '1' },
          loadBalancer: { SESSION_SWEEP_INTERVAL_MS: '250' },
        },
      },
    );
    [a, b] = env.apis as [Api, Api];
  }, 180_000);
  afterAll(async () => {
    await env?.stop();
  });

  it('keeps python kernel state between executions, across replicas', async () => {
    const s = await a.createSession({
      template: 'python',
      env: { GREETING: 'hi' },
      metadata: { owner: 'e2e' },
    });
    expect(s).toMatchObject({ env: { GREETING: 'hi' }, metadata: { owner: 'e2e' } });
    await a.execute(s.id, 'import math\ncounter = 40\ndef bump(n):\n    return n + 2');
    const r = await b.execute(
      s.id,
      'import os\nprint(bump(counter), math.floor(2.5), os.environ["GREETING"])',
    );
    expect(r).toMatchObject({ exitCode: 0, stdout: '42 2 hi\n' });
    const err = await b.execute(s.id, 'raise ValueError("nope")');
    expect(err.exitCode).not.toBe(0);
    expect(err.stderr).toMatch(/Traceback[\s\S]*ValueError: nope/);
    expect((await a.execute(s.id, 'print(counter)')).stdout).toBe('40\n');

    const fromA = await a.request<Session>('GET', `/v1/sessions/${s.id}`);
    const fromB = await b.request<Session>('GET', `/v1/sessions/${s.id}`);
    expect(fromA.status).toBe(200);
    expect({ ...fromB.body, expiresAt: undefined }).toEqual({ ...fromA.body, expiresAt: undefined });
    const listA = await a.request<{ items: Session[] }>('GET', '/v1/sessions');
    expect(listA.body.items.map((x) => x.id)).toContain(s.id);
    // another tenant sees nothing of it
    expect((await env.otherTenant.request('GET', `/v1/sessions/${s.id}`)).status).toBe(404);
    expect(
      (await env.otherTenant.request<{ items: Session[] }>('GET', '/v1/sessions')).body.items.map(
        (x) => x.id,
      ),
    ).not.toContain(s.id);
  });

  it('keeps node kernel state between executions', async () => {
    const s = await a.createSession({ template: 'node' });
    await a.execute(s.id, 'const base = 40; function add(x) { return x + 2 }');
    expect((await b.execute(s.id, 'console.log(add(base))')).stdout).toBe('42\n');
  });

  it('round-trips binary files and refuses paths that escape the workspace', async () => {
    const s = await a.createSession({ template: 'python' });
    const bytes = randomBytes(300_000);
    expect(
      (await a.request('PUT', `/v1/sessions/${s.id}/files/data/blob.bin`, undefined, { raw: bytes })).status,
    ).toBe(204);
    const got = await b.request('GET', `/v1/sessions/${s.id}/files/data/blob.bin`);
    expect(got.status).toBe(200);
    expect(Buffer.compare(got.raw, bytes)).toBe(0);
    const made = await a.execute(s.id, 'open("out.txt", "w").write("made by code")');
    expect(made.exitCode).toBe(0);
    expect((await a.request('GET', `/v1/sessions/${s.id}/files/out.txt`)).raw.toString()).toBe(
      'made by code',
    );
    const list = await a.request<{ items: Array<{ path: string; size: number; modifiedAt: string }> }>(
      'GET',
      `/v1/sessions/${s.id}/files`,
    );
    expect(list.body.items.map((i) => i.path).sort()).toEqual(
      expect.arrayContaining(['data/blob.bin', 'out.txt']),
    );
    expect((await a.request('DELETE', `/v1/sessions/${s.id}/files/out.txt`)).status).toBe(204);
    expect((await a.request('GET', `/v1/sessions/${s.id}/files/out.txt`)).status).toBe(404);
    for (const bad of ['..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', 'a/..%2F..%2F..%2Fx']) {
      const r = await a.request<{ error: { code: string } }>('GET', `/v1/sessions/${s.id}/files/${bad}`);
      expect([r.status, r.body?.error?.code]).toEqual([400, 'invalid_argument']);
    }
    await a.execute(s.id, 'import os\nos.symlink("/etc", "escape")');
    const viaLink = await a.request<{ error: { code: string } }>(
      'GET',
      `/v1/sessions/${s.id}/files/escape/hostname`,
    );
    expect(viaLink.status).toBe(400);
  });

  it('installs packages into the session (pip from a local index, npm from the registry)', async () => {
    const py = await a.createSession({ template: 'python' });
    const inst = await a.request<{ installed: Array<{ name: string; version: string }> }>(
      'POST',
      `/v1/sessions/${py.id}/packages`,
      {
        packages: ['e2etoy==1.2.3'],
      },
    );
    expect(inst.status).toBe(200);
    expect(inst.body.installed).toEqual([expect.objectContaining({ name: 'e2etoy', version: '1.2.3' })]);
    expect((await a.execute(py.id, 'import e2etoy\nprint(e2etoy.VALUE)')).stdout).toBe('1.2.3\n');
    const listed = await a.request<{ items: unknown[] }>('GET', `/v1/sessions/${py.id}/packages`);
    expect(listed.body.items).toEqual([{ manager: 'pip', name: 'e2etoy', version: '1.2.3' }]);

    const js = await a.createSession({ template: 'node' });
    const npm = await a.request<{ installed: Array<{ name: string; version: string }> }>(
      'POST',
      `/v1/sessions/${js.id}/packages`,
      { manager: 'npm', packages: ['is-number@7.0.0'] },
      { timeoutMs: 120_000 },
    );
    expect(npm.status).toBe(200);
    expect(npm.body.installed).toEqual([expect.objectContaining({ name: 'is-number', version: '7.0.0' })]);
    expect((await a.execute(js.id, 'console.log(require("is-number")(5))')).stdout).toBe('true\n');
  });

  it('expires idle sessions at their TTL, and use moves the expiry', async () => {
    const s = await a.createSession({ template: 'python', ttlSeconds: 2 });
    const before = Date.parse(s.expiresAt);
    await a.execute(s.id, 'x = 1');
    const after = await a.request<Session>('GET', `/v1/sessions/${s.id}`);
    expect(Date.parse(after.body.expiresAt)).toBeGreaterThanOrEqual(before);
    const patched = await a.request<Session>('PATCH', `/v1/sessions/${s.id}`, { ttlSeconds: 3 });
    expect(patched.status).toBe(200);
    await eventually(
      async () => ((await b.request('GET', `/v1/sessions/${s.id}`)).status === 404 ? true : undefined),
      15_000,
      'expiry',
    );
    expect((await a.request('POST', `/v1/sessions/${s.id}/executions`, { code: 'print(1)' })).status).toBe(
      404,
    );
  });

  it('persists on request and reports the version', async () => {
    const s = await a.createSession({ template: 'python' });
    await a.execute(s.id, 'open("keep.txt", "w").write("k")');
    const p = await a.request<{ version: number; bytes: number; at: string }>(
      'POST',
      `/v1/sessions/${s.id}/persist`,
    );
    expect(p.status).toBe(200);
    expect(p.body.version).toBeGreaterThanOrEqual(1);
    expect(p.body.bytes).toBeGreaterThan(0);
    const got = await a.request<Session>('GET', `/v1/sessions/${s.id}`);
    expect(got.body.lastSnapshotAt).toBeTruthy();
  });

  it('lists pools with health and breaker state', async () => {
    const pools = await a.request<{ items: Array<Record<string, unknown>> }>('GET', '/v1/pools');
    expect(pools.status).toBe(200);
    const py = pools.body.items.find((p) => p['name'] === 'python');
    expect(py).toMatchObject({ template: 'python', healthy: true, circuit: 'closed', pods: 2 });
  });
});
