import { rmSync } from 'node:fs';
import { PodJobDefs } from '@executor/queues';
import { buildWheelDir } from '@executor/testing';
import { PodDriver, startHarness, type Harness } from './harness';

describe('snapshots and restore through the persistence queues', () => {
  let h: Harness;
  let a: PodDriver;
  let b: PodDriver;
  let wheels: string;

  beforeAll(async () => {
    wheels = buildWheelDir('tinypkg==1.2.3');
    h = await startHarness();
    const extra = { PIP_FIND_LINKS: wheels, PIP_NO_INDEX: 'true', SNAPSHOT_INTERVAL_SECONDS: '1' };
    a = await PodDriver.start(h, 'python', extra);
    b = await PodDriver.start(h, 'python', { ...extra, WARM_KERNELS: '0' });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await h?.stop();
    rmSync(wheels, { recursive: true, force: true });
  });

  it('commits an incremental snapshot before answering each execution that changed files', async () => {
    const { id } = await a.open({ persist: true, env: { K: 'v' } });
    const r1 = await a.exec(id, 'open("one.txt", "w").write("first " * 1000)');
    expect(r1.snapshotVersion).toBe(1);
    const s1 = h.persistence.latest(id);
    expect(s1).toMatchObject({ version: 1, trigger: 'execution', baseVersion: null, carried: 1 });
    const r2 = await a.exec(id, '_ = open("two.txt", "w").write("second")');
    expect(r2.snapshotVersion).toBe(2);
    const s2 = h.persistence.latest(id);
    // a delta: only the new file's content travels
    expect(s2).toMatchObject({ version: 2, baseVersion: 1, carried: 1 });
    expect(s2?.state.files.map((f) => f.path).sort()).toEqual(['one.txt', 'two.txt']);
    const r3 = await a.exec(id, 'y = 1');
    expect(r3.snapshotVersion).toBeUndefined();
    expect(h.persistence.latest(id)?.version).toBe(2);
    expect(s2?.state.env).toEqual({ K: 'v' });
  });

  it('persists on request, installs pip packages into the workspace, and restores files, packages, env and history on another pod', async () => {
    const { id } = await a.open({ persist: true, env: { K: 'v' } });
    await a.exec(id, '_ = open("data.csv", "w").write("a,b\\n1,2\\n")');
    const inst = await h.client.call(
      a.queue,
      PodJobDefs.packagesInstall,
      { sessionId: id, tenant: 'acme', packages: ['tinypkg==1.2.3'] },
      { timeoutMs: 120_000 },
    );
    expect(inst.installed).toEqual([{ name: 'tinypkg', version: '1.2.3' }]);
    expect((await a.exec(id, 'import tinypkg\nprint(tinypkg.VALUE)')).stdout).toBe('1.2.3\n');
    const listed = await h.client.call(
      a.queue,
      PodJobDefs.packagesList,
      { sessionId: id, tenant: 'acme' },
      { timeoutMs: 10_000 },
    );
    expect(listed.items).toEqual([{ manager: 'pip', name: 'tinypkg', version: '1.2.3' }]);
    const persisted = await h.client.call(
      a.queue,
      PodJobDefs.persist,
      { sessionId: id, tenant: 'acme' },
      { timeoutMs: 20_000 },
    );
    expect(persisted.version).toBeGreaterThanOrEqual(2);
    expect(persisted.bytes).toBeGreaterThan(0);

    // the pod is gone: the router reopens the session elsewhere with restore
    const reopened = await b.open({ sessionId: id, persist: true, restore: true });
    expect(reopened.result).toEqual({
      pod: b.cfg.POD_NAME,
      restored: true,
      restoredVersion: persisted.version,
    });
    const r = await b.exec(
      id,
      'import os, tinypkg\nprint(open("data.csv").read().strip(), tinypkg.VALUE, os.environ["K"])',
    );
    expect(r.stdout).toBe('a,b\n1,2 1.2.3 v\n');
    const pk = await h.client.call(
      b.queue,
      PodJobDefs.packagesList,
      { sessionId: id, tenant: 'acme' },
      { timeoutMs: 10_000 },
    );
    expect(pk.items).toEqual([{ manager: 'pip', name: 'tinypkg', version: '1.2.3' }]);
    const snap = await h.client.call(
      b.queue,
      PodJobDefs.persist,
      { sessionId: id, tenant: 'acme' },
      { timeoutMs: 20_000 },
    );
    const history = h.persistence.latest(id)?.state.history ?? [];
    expect(snap.version).toBe(persisted.version + 1);
    expect(history.map((x) => x.code)).toContain('import tinypkg\nprint(tinypkg.VALUE)');
    expect(history[history.length - 1]?.code).toContain('data.csv');
  });

  it('opens empty with restored: false when nothing was stored, and refuses a bad package spec', async () => {
    const { result, id } = await b.open({ persist: true, restore: true });
    expect(result).toEqual({ pod: b.cfg.POD_NAME, restored: false });
    const err = await h.client
      .call(
        b.queue,
        PodJobDefs.packagesInstall,
        { sessionId: id, tenant: 'acme', packages: ['--index-url=http://evil'] },
        { timeoutMs: 10_000 },
      )
      .catch((e: { code: string }) => e);
    expect((err as { code: string }).code).toBe('invalid_argument');
  });

  it('commits a file put before answering (like an execution)', async () => {
    const { id } = await a.open({ persist: true });
    const stored = h.persistence.waitFor(
      (s, sid) => sid === id && s.state.files.some((f) => f.path === 'uploaded.txt'),
    );
    await a.put(id, 'uploaded.txt', 'via files.put');
    // The snapshot was committed before the put answered: it is already there.
    expect(h.persistence.latest(id)?.state.files.map((f) => f.path)).toContain('uploaded.txt');
    expect((await stored).trigger).toBe('execution');
  });

  it('snapshots changed sessions periodically (files written after the execution returned)', async () => {
    const { id } = await a.open({ persist: true });
    const stored = h.persistence.waitFor(
      (s, sid) => sid === id && s.trigger === 'periodic' && s.state.files.some((f) => f.path === 'late.txt'),
    );
    // A background process writes after the execution's own snapshot was taken.
    await a.exec(
      id,
      'import subprocess\n_ = subprocess.Popen(["sh", "-c", "sleep 0.3; echo late > late.txt"])',
    );
    const snap = await stored;
    expect(snap.state.files.map((f) => f.path)).toContain('late.txt');
  });

  it('closes a session, and with deleteState asks persistence to delete its state', async () => {
    const { id } = await a.open({ persist: true });
    await a.exec(id, '_ = open("x", "w").write("x")');
    expect(await a.close(id, true)).toEqual({ closed: true });
    await h.persistence.waitForDelete(id);
    expect(h.persistence.deleted).toContain(id);
    expect(await a.close(id)).toEqual({ closed: false });
  });
});

describe('npm packages', () => {
  let h: Harness;
  let pod: PodDriver;
  beforeAll(async () => {
    h = await startHarness();
    pod = await PodDriver.start(h, 'node', { WARM_KERNELS: '0' });
  });
  afterAll(async () => {
    await pod?.stop();
    await h?.stop();
  });

  it('installs is-number@7.0.0 from the registry into the workspace node_modules', async () => {
    const { id } = await pod.open({ persist: false });
    const inst = await h.client.call(
      pod.queue,
      PodJobDefs.packagesInstall,
      { sessionId: id, tenant: 'acme', packages: ['is-number@7.0.0'] },
      { timeoutMs: 180_000 },
    );
    expect(inst.installed).toEqual([{ name: 'is-number', version: '7.0.0' }]);
    const r = await pod.exec(
      id,
      'const isNumber = require("is-number"); console.log(isNumber(5), isNumber("x"))',
    );
    expect(r.stdout).toBe('true false\n');
  }, 200_000);
});
