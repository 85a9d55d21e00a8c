import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { PodDriver, startHarness, type Harness } from '../test/harness';
import { KernelProcess } from '../src/kernels/kernel-process';
import { SandboxService } from '../src/sandbox/sandbox.service';
import { kernelArgv } from '../src/runner/runtime';
import { readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { captureWorkspace, diffWorkspace, stripContent } from '@executor/session-state';
import { getTemplate } from '@executor/templates';
import { WORKSPACE_WRITERS_PY } from '@executor/testing';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const fmt = (ms: number): string => `${ms.toFixed(2)} ms`;

async function time<T>(fn: () => Promise<T>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function spawnTimes(cmd: string, args: string[], n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
    out.push(performance.now() - t0);
  }
  return out;
}

describe('executor benchmark', () => {
  let h: Harness;
  let pod: PodDriver;
  const lines: string[] = [];
  const report = (s: string): void => {
    lines.push(s);
  };

  beforeAll(async () => {
    h = await startHarness();
    pod = await PodDriver.start(h, 'python', {
      WARM_KERNELS: '2',
      MAX_SESSIONS: '32',
      SANDBOX: process.env['EXECUTOR_TEST_SANDBOX'] ?? 'bwrap',
    });
  });
  afterAll(async () => {
    console.log(`\n===== executor bench (SANDBOX=${pod.cfg.SANDBOX}) =====\n${lines.join('\n')}\n`);
    await pod?.stop();
    await h?.stop();
  });

  it('print(1) through the queue into a warm python kernel vs python3 -c spawned directly', async () => {
    const { id } = await pod.open();
    for (let i = 0; i < 20; i++) await pod.exec(id, 'print(1)');
    const rt: number[] = [];
    const inner: number[] = [];
    for (let i = 0; i < 300; i++) {
      let r: { durationMs: number } | undefined;
      rt.push(await time(async () => (r = await pod.exec(id, 'print(1)'))));
      inner.push((r as { durationMs: number }).durationMs);
    }
    const direct = spawnTimes('/usr/bin/python3', ['-c', 'print(1)'], 30);
    const shim = spawnTimes('python3', ['-c', 'print(1)'], 10);
    report(
      `queue round trip print(1), warm kernel: p50 ${fmt(pct(rt, 50))}, p95 ${fmt(pct(rt, 95))} (executor-side durationMs p50 ${fmt(pct(inner, 50))})`,
    );
    report(
      `spawn /usr/bin/python3 -c 'print(1)': p50 ${fmt(pct(direct, 50))}; through the pyenv shim: p50 ${fmt(pct(shim, 50))}`,
    );
    report(
      `ratio spawn/queue-roundtrip: ${(pct(direct, 50) / pct(rt, 50)).toFixed(2)}x (shim: ${(pct(shim, 50) / pct(rt, 50)).toFixed(2)}x)`,
    );
  });

  it('create -> first result with the warm kernel pool', async () => {
    const warm: number[] = [];
    for (let i = 0; i < 10; i++) {
      await pod.app.get((await import('../src/sessions/warm-pool.service')).WarmPoolService).waitFull();
      warm.push(
        await time(async () => {
          const { id } = await pod.open();
          await pod.exec(id, 'print(1)');
        }),
      );
    }
    report(`session.open + first print(1), warm pool: p50 ${fmt(pct(warm, 50))}, p95 ${fmt(pct(warm, 95))}`);
  });

  it('kernel protocol overhead (no queue): run("pass") in the bwrap-sandboxed kernel vs a bare exec loop', async () => {
    // The pod's own sandbox (seccomp, /etc view, cgroups, slot storage) and slot allocator.
    const { sandbox, slots } = pod.app.get(SandboxService);
    const slot = slots.allocate();
    const spec = sandbox.spec(slot, {
      argv: kernelArgv(getTemplate('python'), sandbox, 512),
      env: sandbox.baseEnv(slot),
      network: false,
      addressSpaceLimit: false,
    });
    const k = new KernelProcess(spec, slot, 1 << 20);
    await k.start();
    for (let i = 0; i < 200; i++) await k.run('pass', 1000);
    const n = 2000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await k.run('pass', 1000);
    const per = (performance.now() - t0) / n;
    const bare = spawnSync(
      '/usr/bin/python3',
      [
        '-c',
        'import time\nns={}\nc=compile("pass","<c>","exec")\nn=20000\nt=time.perf_counter()\nfor _ in range(n): exec(c, ns)\nprint((time.perf_counter()-t)/n*1000)',
      ],
      { encoding: 'utf8' },
    );
    report(
      `kernel round trip run("pass"), no queue: ${per.toFixed(3)} ms/exec; bare python exec loop: ${Number(bare.stdout).toFixed(4)} ms/exec -> overhead ${(per - Number(bare.stdout)).toFixed(3)} ms`,
    );
    await k.close();
    slots.release(slot);
  });

  it.each([1, 4, 8])('throughput with %i sessions in parallel', async (n) => {
    const ids = await Promise.all(Array.from({ length: n }, async () => (await pod.open()).id));
    const per = 60;
    const t0 = performance.now();
    await Promise.all(
      ids.map(async (id) => {
        for (let i = 0; i < per; i++) await pod.exec(id, 'x = sum(range(100))');
      }),
    );
    const s = (performance.now() - t0) / 1000;
    report(`${n} session(s) in parallel: ${((n * per) / s).toFixed(0)} executions/s`);
    await Promise.all(ids.map((id) => pod.close(id)));
  });

  it('snapshot time with busy background writers beside the quiet case', async () => {
    const { id } = await pod.open({ persist: true });
    // A workspace of 500 files (~2 MB) in 20 directories, then settled (older than the racy window).
    await pod.exec(
      id,
      'import os\nfor d in range(20):\n    os.makedirs(f"src/d{d}", exist_ok=True)\n    for f in range(25):\n        open(f"src/d{d}/f{f}.txt", "w").write(str((d, f)) * 600)',
      60_000,
    );
    const work = await pod.hostWorkspace(id);
    const old = Date.now() / 1000 - 3600;
    for (const d of readdirSync(join(work, 'src'))) {
      for (const f of readdirSync(join(work, 'src', d))) utimesSync(join(work, 'src', d, f), old, old);
    }
    await pod.put(id, 'writers.py', WORKSPACE_WRITERS_PY);
    await pod.persist(id);
    await pod.persist(id);
    const measure = async (): Promise<{ persist: number[]; diff: number[]; exec: number[] }> => {
      const persist: number[] = [];
      const diff: number[] = [];
      const exec: number[] = [];
      let prev = stripContent(await captureWorkspace(work));
      for (let i = 0; i < 40; i++) {
        persist.push(await time(() => pod.persist(id)));
        exec.push(await time(() => pod.exec(id, `_ = open("c.txt", "w").write("${i}")`)));
        const t0 = performance.now();
        const d = await diffWorkspace(prev, work);
        diff.push(performance.now() - t0);
        prev = stripContent(d.files);
      }
      return { persist, diff, exec };
    };
    const quiet = await measure();
    await pod.exec(
      id,
      'import subprocess, sys, os, time\nsubprocess.Popen([sys.executable, "writers.py", ".", "0.0005"], start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\nwhile not os.path.exists("writers.running"): time.sleep(0.001)',
      30_000,
    );
    const busy = await measure();
    await pod.exec(
      id,
      'import os, time\nopen("writers.stop", "w").close()\nwhile not os.path.exists("writers.stopped"): time.sleep(0.001)',
      30_000,
    );
    const line = (label: string, q: number[], b: number[]): string =>
      `${label}: quiet p50 ${fmt(pct(q, 50))} / p95 ${fmt(pct(q, 95))}; busy writers p50 ${fmt(pct(b, 50))} / p95 ${fmt(pct(b, 95))} (x${(pct(b, 50) / pct(q, 50)).toFixed(2)} p50)`;
    report(
      `snapshot bench, 500 settled files (~2 MB) + the writers' files; busy = 7 writer threads (atomic renames, deletes, truncations, in-place rewrites, appends, dir churn, symlink swaps):`,
    );
    report(line('  persist round trip (diff + encode + transfer + store)', quiet.persist, busy.persist));
    report(line('  diffWorkspace of the workspace alone', quiet.diff, busy.diff));
    report(line('  execution writing a small file (snapshot before reply)', quiet.exec, busy.exec));
    await pod.close(id);
  });

  it('cost of the synchronous snapshot after an execution that changed a small file', async () => {
    const { id } = await pod.open({ persist: true });
    const { id: plain } = await pod.open({ persist: false });
    const code = (i: number): string => `_ = open("c.txt", "w").write("${i}")`;
    const withSnap: number[] = [];
    const without: number[] = [];
    for (let i = 0; i < 60; i++) {
      withSnap.push(await time(() => pod.exec(id, code(i))));
      without.push(await time(() => pod.exec(plain, code(i))));
    }
    report(
      `execution writing a small file: persistent (snapshot committed before reply) p50 ${fmt(pct(withSnap, 50))} vs not persistent p50 ${fmt(pct(without, 50))} -> snapshot adds ${fmt(pct(withSnap, 50) - pct(without, 50))}`,
    );
  });
});
