import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { WORKSPACE_WRITERS_PY, checkWrittenEntry } from '@executor/testing';
import { PodClient, PodDriver, executorConfig, startHarness, type Harness } from './harness';

const BUNDLE = join(__dirname, '../../../dist/apps/executor/main.js');

/**
 * Issue 16 acceptance: background writers inside the session (atomic-rename checkpoints,
 * deletes, truncations, same-size in-place rewrites, appends, directory churn, symlink
 * replacement) while 1,000 executions (each committing a snapshot) and 20 persists run:
 * 0 failures; then the last snapshot is restored on another pod (a second executor process)
 * and every file there is exactly one version the writers wrote.
 */
describe('executions and persists never fail while the workspace changes under the snapshots', () => {
  let h: Harness;
  let a: PodDriver;
  let b: ChildProcess | undefined;
  let bRoot: string | undefined;
  const bLog: string[] = [];

  beforeAll(async () => {
    h = await startHarness();
    a = await PodDriver.start(h, 'python', { SNAPSHOT_INTERVAL_SECONDS: '3600', WARM_KERNELS: '1' });
  });
  afterAll(async () => {
    if (b && b.exitCode === null) {
      b.kill('SIGTERM');
      await new Promise((r) => b?.once('exit', r));
    }
    if (bRoot) rmSync(bRoot, { recursive: true, force: true });
    await a?.stop();
    await h?.stop();
  });

  it('1,000 executions + 20 persists with busy writers: 0 failures; a restore on another pod holds one written version per file', async () => {
    expect(existsSync(BUNDLE)).toBe(true); // nx build executor (the test target builds first)
    const { id } = await a.open({ persist: true });
    await a.put(id, 'writers.py', WORKSPACE_WRITERS_PY);
    const started = await a.exec(
      id,
      [
        'import subprocess, sys, os, time',
        'subprocess.Popen([sys.executable, "writers.py", ".", "0.0005"], start_new_session=True,',
        '                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open("writers.err", "w"))',
        'while not os.path.exists("writers.running"): time.sleep(0.001)',
        'print("writers running")',
      ].join('\n'),
      30_000,
    );
    expect(started.stdout).toBe('writers running\n');

    const failures: string[] = [];
    const persists: Array<Promise<unknown>> = [];
    let withSnapshot = 0;
    const t0 = Date.now();
    for (let i = 1; i <= 1000; i++) {
      if (i % 50 === 25 && persists.length < 19) {
        persists.push(a.persist(id).catch((err: Error) => failures.push(`persist: ${err.message}`)));
      }
      try {
        const r = await a.exec(id, 'print(1)');
        if (r.exitCode !== 0 || r.stdout !== '1\n')
          failures.push(`execution ${i}: ${r.exitCode} ${r.stderr}`);
        if (r.snapshotVersion !== undefined) withSnapshot++;
      } catch (err) {
        failures.push(`execution ${i}: ${(err as Error).message}`);
      }
    }
    await Promise.all(persists);
    const last = await a.persist(id); // the 20th persist: the snapshot restored below
    const elapsed = Date.now() - t0;
    expect(failures).toEqual([]);
    // The writers changed files between nearly every pair of executions: each one committed a snapshot.
    expect(withSnapshot).toBeGreaterThan(900);
    const stored = h.persistence.stored.get(id) ?? [];
    console.log(
      `capture races: 1000 executions + 20 persists in ${(elapsed / 1000).toFixed(1)} s, ` +
        `${withSnapshot} executions committed a snapshot, ${stored.length} snapshots stored, 0 failures`,
    );

    // Every stored snapshot holds, per file, exactly one version the writers wrote.
    const problems: string[] = [];
    for (const snap of stored)
      for (const f of snap.state.files) {
        const p = checkWrittenEntry(f);
        if (p) problems.push(`v${snap.version}: ${p}`);
      }
    expect(problems).toEqual([]);
    const lastState = stored.find((s) => s.version === last.version)?.state;
    expect(lastState).toBeDefined();

    // Move the session: close it here (no further snapshot), restore on a second executor process.
    await a.close(id);
    expect(h.persistence.latest(id)?.version).toBe(last.version);
    const cfg = executorConfig(h, 'python');
    bRoot = cfg.WORKSPACE_ROOT;
    b = spawn(process.execPath, [BUNDLE], {
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        POOL_NAME: cfg.POOL_NAME,
        POD_NAME: cfg.POD_NAME,
        TEMPLATE: 'python',
        REDIS_URL: h.redis.url,
        QUEUE_PREFIX: h.prefix,
        WORKSPACE_ROOT: cfg.WORKSPACE_ROOT,
        PORT: '0',
        WARM_KERNELS: '0',
        SNAPSHOT_AFTER_EXECUTION: 'false',
        SNAPSHOT_INTERVAL_SECONDS: '3600',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer): void => {
        bLog.push(d.toString());
        if (/ready \(pool/.test(d.toString())) resolve();
      };
      b?.stdout?.on('data', onData);
      b?.stderr?.on('data', onData);
      b?.once('exit', (code) => reject(new Error(`pod B exited (${code}):\n${bLog.join('')}`)));
    });
    const podB = new PodClient(h, cfg); // pod B runs in another process
    const reopened = await podB.open({ sessionId: id, persist: true, restore: true });
    expect(reopened.result).toMatchObject({ restored: true, restoredVersion: last.version });
    const walk = await podB.exec(
      id,
      [
        'import os, hashlib, json',
        'out = {}',
        'for dp, dns, fns in os.walk(".", followlinks=False):',
        '    for n in dns + fns:',
        '        p = os.path.relpath(os.path.join(dp, n), ".")',
        '        if os.path.islink(p): out[p] = ["symlink", os.readlink(p)]',
        '        elif os.path.isdir(p): out[p] = ["dir", None]',
        '        else: out[p] = ["file", hashlib.sha256(open(p, "rb").read()).hexdigest()]',
        'print(json.dumps(out))',
      ].join('\n'),
      30_000,
    );
    expect(walk.exitCode).toBe(0);
    const onB = JSON.parse(walk.stdout) as Record<string, [string, string | null]>;
    const want: Record<string, [string, string | null]> = {};
    for (const f of lastState?.files ?? [])
      want[f.path] = [
        f.type,
        f.type === 'file'
          ? createHash('sha256')
              .update(f.content as Buffer)
              .digest('hex')
          : f.type === 'symlink'
            ? (f.target as string)
            : null,
      ];
    expect(onB).toEqual(want);
    const files = (lastState?.files ?? []).filter((f) => f.type === 'file');
    expect(files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['ckpt.txt', 'inplace.txt', 'trunc.txt']),
    );
    for (const f of lastState?.files ?? []) expect(checkWrittenEntry(f)).toBeUndefined();
    console.log(
      `capture races: restored v${last.version} on a second executor process: ${Object.keys(onB).length} entries, ` +
        `${files.length} files, each one version written`,
    );
  }, 900_000);
});
