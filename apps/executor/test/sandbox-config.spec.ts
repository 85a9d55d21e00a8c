import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { JobCallError } from '@executor/queues';
import { locateOwnCgroups, parseMountinfo } from '../src/sandbox/cgroups';
import { SandboxService } from '../src/sandbox/sandbox.service';
import { PodDriver, startHarness, type Harness } from './harness';
import { NONROOT_UID, startBundlePod } from './attacks/bundle-executor';

const mounts = (): ReturnType<typeof parseMountinfo> =>
  parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
/** mount ID (first field of mountinfo) of every mount under `root`. */
const mountIds = (root: string): string[] =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[4]?.startsWith(`${root}/`))
    .map((l) => l.split(' ')[0] as string);
const ownDir = (controller: string): string => {
  const own = locateOwnCgroups(
    readFileSync('/proc/self/cgroup', 'utf8'),
    readFileSync('/proc/self/mountinfo', 'utf8'),
  );
  const o = own.find((x) => (x.controllers as string[]).includes(controller));
  if (!o) throw new Error(`no ${controller} cgroup here`);
  return o.dir;
};
const statusOf = (pid: number): Record<string, string> =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .filter((l) => l.includes(':\t'))
      .map((l) => l.split(':\t').map((x) => x.trim()) as [string, string]),
  );

describe('sandbox configuration and containment report', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('root executor: distinct uid, cgroups nested under its own cgroup with the limits, a bounded tmpfs per slot', async () => {
    const pod = await PodDriver.start(h, 'python', {
      SANDBOX_UID_BASE: '40000',
      MEMORY_LIMIT_MB: '300',
      MAX_PROCESSES: '50',
      CPU_SHARES: '512',
      CPU_LIMIT: '0.5',
      WORKSPACE_MAX_BYTES: String(32 * 1024 * 1024),
      WORKSPACE_MAX_FILES: '1000',
      WARM_KERNELS: '0',
    });
    try {
      const svc = pod.app.get(SandboxService);
      expect(svc.containment).toMatchObject({
        ready: true,
        mode: 'bwrap',
        executorUid: 0,
        uids: { mode: 'distinct', base: 40000 },
        insideUid: 1000,
        cgroups: { version: 'v1', pids: true, memory: true, cpu: true },
        tmpfs: { enabled: true, maxBytes: 32 * 1024 * 1024, maxFiles: 1000 },
        seccomp: { enabled: true },
        userNamespacesDisabled: true,
      });
      expect(svc.containment.seccomp.rules).toBeGreaterThan(250);
      const { id } = await pod.open();
      const r = await pod.exec(
        id,
        'import os, time\nprint(os.getpid())\nt = time.time()\nc = time.process_time()\nwhile time.time() - t < 1: pass\nprint(round((time.process_time() - c) / (time.time() - t), 2))',
      );
      // CPU_LIMIT 0.5: the spinner got about half a core
      expect(Number(r.stdout.trim().split('\n')[1])).toBeLessThan(0.75);
      const slot = readdirSync(pod.cfg.WORKSPACE_ROOT).find((n) => n.startsWith('slot-')) as string;
      const slotDir = join(pod.cfg.WORKSPACE_ROOT, slot);
      const m = mounts().find((x) => x.mountPoint === slotDir);
      expect(m).toMatchObject({ fsType: 'tmpfs' });
      const line = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .find((l) => l.split(' ')[4] === slotDir) as string;
      expect(line).toMatch(/nosuid/);
      expect(line).toMatch(/nodev/);
      expect(line).toMatch(/size=32768k/);
      expect(line).toMatch(/nr_inodes=1000/);
      expect(line).toMatch(/mode=700/);
      const uid = 40000 + Number(slot.slice(5));
      expect(line).toMatch(new RegExp(`uid=${uid}`));
      expect(statSync(slotDir).uid).toBe(uid);
      const name = `executor-${pod.cfg.POD_NAME}`;
      const cg = (c: string, file: string): string =>
        readFileSync(join(ownDir(c), name, slot, file), 'utf8').trim();
      expect(cg('pids', 'pids.max')).toBe('50');
      expect(cg('memory', 'memory.limit_in_bytes')).toBe(String(300 * 1024 * 1024));
      expect(cg('cpu', 'cpu.shares')).toBe('512');
      expect(cg('cpu', 'cpu.cfs_quota_us')).toBe('50000');
      // every process of the session is in the slot's cgroups and runs as the slot's uid, without capabilities
      const procs = cg('pids', 'cgroup.procs').split('\n').map(Number);
      expect(procs.length).toBeGreaterThan(1);
      for (const pid of procs) {
        const st = statusOf(pid);
        expect(st['Uid']?.split(/\s+/)).toEqual([String(uid), String(uid), String(uid), String(uid)]);
        expect(st['CapEff']).toBe('0000000000000000');
        expect(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim()).toBe('1000');
      }
      expect(cg('memory', 'cgroup.procs').split('\n').map(Number).sort()).toEqual([...procs].sort());
      await pod.close(id);
      // released: unmounted, cgroups removed
      expect(mounts().some((x) => x.mountPoint === slotDir)).toBe(false);
      expect(() => statSync(join(ownDir('pids'), name, slot))).toThrow();
    } finally {
      await pod.stop();
    }
    expect(mountIds(pod.cfg.WORKSPACE_ROOT)).toEqual([]);
  });

  it('root executor with SANDBOX_UID_BASE=0 refuses to start', async () => {
    await expect(startBundlePod(h, 'python', { SANDBOX_UID_BASE: '0' })).rejects.toThrow(
      /executor exited \(1\)[^]*refusing to start: .*SANDBOX_UID_BASE=0/,
    );
  });

  it('SANDBOX=none (only when set explicitly) logs a warning at boot', async () => {
    const pod = await startBundlePod(h, 'python', { SANDBOX: 'none', WARM_KERNELS: '0' });
    try {
      expect(pod.log.some((l) => /WARN.*SANDBOX=none/.test(l))).toBe(true);
      const { id } = await pod.open();
      expect((await pod.exec(id, 'print(1)')).stdout).toBe('1\n');
    } finally {
      await pod.stop();
    }
  });

  it('non-root executor without a delegated cgroup refuses sessions, with the reason', async () => {
    const pod = await startBundlePod(
      h,
      'python',
      { SANDBOX: 'bwrap', WARM_KERNELS: '1' },
      { uid: NONROOT_UID, delegateCgroup: false },
    );
    try {
      expect(
        pod.log.some((l) => /refusing sessions: .*no per-session pids\/memory cgroup.*delegated/.test(l)),
      ).toBe(true);
      const err = await pod.open().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(JobCallError);
      expect(err).toMatchObject({ code: 'unavailable' });
      expect((err as Error).message).toMatch(/sandbox not ready: no per-session pids\/memory cgroup/);
    } finally {
      await pod.stop();
    }
  });

  it("a crashed executor's slot tmpfs mounts and cgroups are removed when the next one boots", async () => {
    const extra = {
      SANDBOX: 'bwrap',
      WARM_KERNELS: '1',
      WORKSPACE_ROOT: `/tmp/executor-crash-${process.pid}`,
    };
    const root = extra.WORKSPACE_ROOT;
    const mounted = (): string[] =>
      mounts()
        .map((x) => x.mountPoint)
        .filter((p) => p.startsWith(`${root}/`))
        .sort();
    const a = await startBundlePod(h, 'python', extra);
    const { id } = await a.open(); // takes the warm slot-0; slot-1 is refilled
    await a.exec(id, 'open("old-marker", "w").write("x")');
    await a.open(); // slot-1
    expect(mounted()).toEqual([join(root, 'slot-0'), join(root, 'slot-1'), join(root, 'slot-2')]);
    const cgRoot = join(ownDir('pids'), `executor-${a.cfg.POD_NAME}`);
    expect(
      readdirSync(cgRoot)
        .filter((n) => n.startsWith('slot-'))
        .sort(),
    ).toEqual(['slot-0', 'slot-1', 'slot-2']);
    process.kill(a.pid, 'SIGKILL');
    await a.exited;
    expect(mounted().length).toBe(3); // left behind by the crash
    const b = await startBundlePod(h, 'python', { ...extra, POD_NAME: a.cfg.POD_NAME });
    try {
      expect(mounted()).toEqual([join(root, 'slot-0')]); // only the new warm kernel's slot
      expect(readdirSync(cgRoot).filter((n) => n.startsWith('slot-'))).toEqual(['slot-0']);
      expect(readdirSync(join(root, 'slot-0', 'work'))).toEqual([]);
      const s = await b.open();
      expect((await b.exec(s.id, 'import os\nprint(os.listdir("."))')).stdout).toBe('[]\n');
    } finally {
      await b.stop();
    }
    expect(mounted()).toEqual([]);
  });
});
