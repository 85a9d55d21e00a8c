// The user stories of apps/e2e, against executors in pods, through the load balancer's Service:
// stateful python and node kernels, files, packages (offline), TTL expiry, persistence.
import { randomBytes } from 'node:crypto';
import type { Session } from './support/api';
import { eventually } from './support/kube';
import { NPM_PACKAGE } from './support/packages';
import { REGION, apis } from './support/platform';
import { NODE_POOL, PY_POOL, ensureSuitePools } from './support/pools';

describe('sessions on the cluster', () => {
  const { api, other } = apis();

  beforeAll(async () => {
    await ensureSuitePools(api);
  });
  afterAll(async () => {
    await api.deleteCreatedSessions();
  });

  it('keeps python kernel state between executions, isolated per tenant', async () => {
    const s = await api.createSession({ template: 'python', region: REGION, env: { GREETING: 'hi' } });
    expect(s.pool).toBe(PY_POOL);
    await api.execute(s.id, 'import math\ncounter = 40\ndef bump(n):\n    return n + 2');
    const r = await api.execute(
      s.id,
      'import os\nprint(bump(counter), math.floor(2.5), os.environ["GREETING"])',
    );
    expect(r).toMatchObject({ exitCode: 0, stdout: '42 2 hi\n' });
    const err = await api.execute(s.id, 'raise ValueError("nope")');
    expect(err.exitCode).not.toBe(0);
    expect(err.stderr).toMatch(/Traceback[\s\S]*ValueError: nope/);
    expect((await api.execute(s.id, 'print(counter)')).stdout).toBe('40\n');
    expect((await other.request('GET', `/v1/sessions/${s.id}`)).status).toBe(404);
  });

  it('runs session code in the sandbox inside the pod (own pid namespace, no network)', async () => {
    const s = await api.createSession({ template: 'python', region: REGION });
    const r = await api.execute(
      s.id,
      [
        'import os, socket',
        'pids = [p for p in os.listdir("/proc") if p.isdigit()]',
        'print(len(pids) < 20, os.path.exists("/var/run/secrets/kubernetes.io"))',
        'try:',
        '    socket.create_connection(("10.96.0.1", 443), timeout=2)',
        '    print("network")',
        'except OSError:',
        '    print("no network")',
      ].join('\n'),
    );
    expect({ stdout: r.stdout, stderr: r.stderr }).toEqual({
      stdout: 'True False\nno network\n',
      stderr: '',
    });
  });

  it('keeps node kernel state between executions', async () => {
    const s = await api.createSession({ template: 'node', region: REGION });
    expect(s.pool).toBe(NODE_POOL);
    await api.execute(s.id, 'const base = 40; function add(x) { return x + 2 }');
    expect((await api.execute(s.id, 'console.log(add(base))')).stdout).toBe('42\n');
  });

  it('round-trips binary files and refuses paths that escape the workspace', async () => {
    const s = await api.createSession({ template: 'python', region: REGION });
    const bytes = randomBytes(300_000);
    expect(
      (await api.request('PUT', `/v1/sessions/${s.id}/files/data/blob.bin`, undefined, { raw: bytes }))
        .status,
    ).toBe(204);
    const got = await api.request('GET', `/v1/sessions/${s.id}/files/data/blob.bin`);
    expect(got.status).toBe(200);
    expect(Buffer.compare(got.raw, bytes)).toBe(0);
    const made = await api.execute(
      s.id,
      'open("out.txt", "w").write("made by code")\nprint(len(open("data/blob.bin", "rb").read()))',
    );
    expect(made.stdout).toBe('300000\n');
    expect((await api.request('GET', `/v1/sessions/${s.id}/files/out.txt`)).raw.toString()).toBe(
      'made by code',
    );
    const list = await api.request<{ items: Array<{ path: string }> }>('GET', `/v1/sessions/${s.id}/files`);
    expect(list.body.items.map((i) => i.path)).toEqual(expect.arrayContaining(['data/blob.bin', 'out.txt']));
    expect((await api.request('DELETE', `/v1/sessions/${s.id}/files/out.txt`)).status).toBe(204);
    expect((await api.request('GET', `/v1/sessions/${s.id}/files/out.txt`)).status).toBe(404);
    const bad = await api.request<{ error: { code: string } }>(
      'GET',
      `/v1/sessions/${s.id}/files/..%2F..%2Fetc%2Fpasswd`,
    );
    expect([bad.status, bad.body?.error?.code]).toEqual([400, 'invalid_argument']);
  });

  it('installs packages offline: pip from the image wheel directory, npm from the in-cluster registry', async () => {
    const py = await api.createSession({ template: 'python', region: REGION });
    const inst = await api.request<{ installed: Array<{ name: string; version: string }> }>(
      'POST',
      `/v1/sessions/${py.id}/packages`,
      { packages: ['e2etoy==1.2.3'] },
      { timeoutMs: 120_000 },
    );
    expect({ status: inst.status, installed: inst.body.installed }).toEqual({
      status: 200,
      installed: [expect.objectContaining({ name: 'e2etoy', version: '1.2.3' })],
    });
    expect((await api.execute(py.id, 'import e2etoy\nprint(e2etoy.VALUE)')).stdout).toBe('1.2.3\n');

    const js = await api.createSession({ template: 'node', region: REGION });
    const npm = await api.request<{ installed: Array<{ name: string; version: string }> }>(
      'POST',
      `/v1/sessions/${js.id}/packages`,
      { manager: 'npm', packages: [`${NPM_PACKAGE.name}@${NPM_PACKAGE.version}`] },
      { timeoutMs: 120_000 },
    );
    expect({ status: npm.status, body: npm.body }).toEqual({
      status: 200,
      body: expect.objectContaining({
        installed: [expect.objectContaining({ name: NPM_PACKAGE.name, version: NPM_PACKAGE.version })],
      }),
    });
    expect((await api.execute(js.id, `console.log(require("${NPM_PACKAGE.name}"))`)).stdout).toBe(
      `${NPM_PACKAGE.value}\n`,
    );
  });

  it('expires idle sessions at their TTL', async () => {
    const s = await api.createSession({ template: 'python', region: REGION, ttlSeconds: 3 });
    await api.execute(s.id, 'x = 1');
    await eventually(
      async () => ((await api.request('GET', `/v1/sessions/${s.id}`)).status === 404 ? true : undefined),
      30_000,
      'expiry',
      250,
    );
    expect((await api.request('POST', `/v1/sessions/${s.id}/executions`, { code: 'print(1)' })).status).toBe(
      404,
    );
  });

  it('persists on request and reports the version', async () => {
    const s = await api.createSession({ template: 'python', region: REGION });
    await api.execute(s.id, 'open("keep.txt", "w").write("k")');
    const p = await api.request<{ version: number; bytes: number }>('POST', `/v1/sessions/${s.id}/persist`);
    expect(p.status).toBe(200);
    expect(p.body.version).toBeGreaterThanOrEqual(1);
    expect((await api.request<Session>('GET', `/v1/sessions/${s.id}`)).body.lastSnapshotAt).toBeTruthy();
  });
});
