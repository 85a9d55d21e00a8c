import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cgroups, locateOwnCgroups, parseMountinfo, parseProcCgroup, type OwnCgroup } from './cgroups';

describe('locating the executor’s own cgroup', () => {
  it('parses /proc/self/cgroup and mountinfo (escapes, combined v1 controllers)', () => {
    expect(parseProcCgroup('12:cpu,cpuacct:/a b\n0::/x\n')).toEqual([
      { id: 12, controllers: ['cpu', 'cpuacct'], path: '/a b' },
      { id: 0, controllers: [], path: '/x' },
    ]);
    const m = parseMountinfo(
      '30 25 0:26 / /sys/fs/cgroup/cpu\\040x rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n',
    );
    expect(m).toEqual([
      {
        root: '/',
        mountPoint: '/sys/fs/cgroup/cpu x',
        fsType: 'cgroup',
        superOptions: ['rw', 'cpu', 'cpuacct'],
      },
    ]);
  });

  it('maps a container’s v1 paths through the mount root and skips hierarchies without session controllers', () => {
    const proc = [
      '9:memory:/kubepods/pod1/c1',
      '8:pids:/kubepods/pod1/c1',
      '7:cpu,cpuacct:/kubepods/pod1/c1',
      '6:devices:/kubepods/pod1/c1',
      '0::/',
    ].join('\n');
    const info = [
      '40 30 0:40 /kubepods/pod1/c1 /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory',
      '41 30 0:41 /kubepods/pod1/c1 /sys/fs/cgroup/pids ro - cgroup cgroup rw,pids',
      '42 30 0:42 /kubepods/pod1/c1 /sys/fs/cgroup/cpu,cpuacct ro - cgroup cgroup rw,cpu,cpuacct',
      '43 30 0:43 /kubepods/pod1/c1 /sys/fs/cgroup/devices ro - cgroup cgroup rw,devices',
    ].join('\n');
    expect(locateOwnCgroups(proc, info)).toEqual([
      { version: 1, controllers: ['memory'], dir: '/sys/fs/cgroup/memory' },
      { version: 1, controllers: ['pids'], dir: '/sys/fs/cgroup/pids' },
      { version: 1, controllers: ['cpu'], dir: '/sys/fs/cgroup/cpu,cpuacct' },
    ]);
  });

  it('uses v2 for the controllers its own cgroup offers (a cgroup namespace: path / at the mount)', () => {
    const fake = mkdtempSync(join(tmpdir(), 'cg2-'));
    try {
      mkdirSync(join(fake, 'svc'));
      writeFileSync(join(fake, 'svc', 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
      const info = `50 30 0:50 /system.slice ${fake} rw - cgroup2 cgroup2 rw`;
      expect(locateOwnCgroups('0::/system.slice/svc\n', info)).toEqual([
        { version: 2, controllers: ['pids', 'memory', 'cpu'], dir: join(fake, 'svc') },
      ]);
      // own cgroup outside the mounted sub-tree: not usable
      expect(locateOwnCgroups('0::/elsewhere\n', info)).toEqual([]);
    } finally {
      rmSync(fake, { recursive: true, force: true });
    }
  });

  it('reports a read-only (not delegated) hierarchy as unusable, with the reason', () => {
    const c = new Cgroups('executor-test', [{ version: 1, controllers: ['pids'], dir: '/proc' }]);
    expect(c.support).toMatchObject({ version: 'none', pids: false, memory: false });
    expect(c.support.reason).toMatch(/pids \(v1 at \/proc\): .*not writable|not usable/);
  });
});

/**
 * cgroup v2 on the real unified hierarchy of this machine. Its only controller here is hugetlb (pids,
 * memory and cpu are bound to v1), so hugetlb stands in for them: the test exercises the v2 rules
 * themselves — the "no internal processes" move into a leaf, subtree_control, joining and killing.
 */
describe('cgroup v2 delegation (real cgroup2 mount)', () => {
  const base = '/sys/fs/cgroup/unified';
  const own = join(base, `executor-v2-test-${process.pid}`);
  let enabledHere = false;
  beforeAll(() => {
    // The hierarchy's root hands hugetlb to its children only when enabled in its subtree_control.
    if (!/hugetlb/.test(readFileSync(join(base, 'cgroup.subtree_control'), 'utf8'))) {
      writeFileSync(join(base, 'cgroup.subtree_control'), '+hugetlb');
      enabledHere = true;
    }
  });
  afterAll(() => {
    const rm = (d: string): void => {
      if (!existsSync(d)) return;
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rm(join(d, e.name));
      rmdirSync(d);
    };
    try {
      rm(own);
    } finally {
      // Put the machine back as found (EBUSY when another run's cgroups still use it: then it stays on).
      if (enabledHere) {
        try {
          writeFileSync(join(base, 'cgroup.subtree_control'), '-hugetlb');
        } catch {
          // another run of this suite is using it
        }
      }
    }
  });

  it('moves the processes of its own cgroup into a leaf, enables the controller, creates joinable slots', async () => {
    expect(readFileSync(join(base, 'cgroup.controllers'), 'utf8')).toMatch(/hugetlb/);
    mkdirSync(own);
    // a process standing in for the executor, inside its own cgroup
    const sleeper = spawn('/bin/sleep', ['60'], { stdio: 'ignore' });
    const sleeperExited = new Promise<void>((r) => sleeper.once('exit', () => r()));
    writeFileSync(join(own, 'cgroup.procs'), String(sleeper.pid));
    try {
      const c = new Cgroups('executor-pod', [
        { version: 2, controllers: ['hugetlb'], dir: own } as unknown as OwnCgroup,
      ]);
      expect(c.support.version).toBe('v2');
      expect(readFileSync(join(own, 'cgroup.procs'), 'utf8').trim()).toBe('');
      expect(readFileSync(join(own, 'executor', 'cgroup.procs'), 'utf8').trim()).toBe(String(sleeper.pid));
      expect(readFileSync(join(own, 'cgroup.subtree_control'), 'utf8')).toMatch(/hugetlb/);
      expect(readFileSync(join(own, 'executor-pod', 'cgroup.subtree_control'), 'utf8')).toMatch(/hugetlb/);
      const slot = c.create('slot-0', { pidsMax: 10, memoryBytes: 1 << 26, cpuShares: 1024, cpuCores: 0 });
      expect(slot?.procsFiles).toEqual([join(own, 'executor-pod', 'slot-0', 'cgroup.procs')]);
      const child = spawn(
        '/bin/sh',
        ['-c', 'echo $$ > "$0" && echo joined && exec sleep 60', slot?.procsFiles[0] as string],
        {
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      );
      const exited = new Promise<string | null>((r) => child.once('exit', (_c, sig) => r(sig)));
      await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
      expect(slot?.pids()).toEqual([child.pid]);
      slot?.remove(); // cgroup.kill + rmdir
      expect(await exited).toBe('SIGKILL');
      expect(existsSync(join(own, 'executor-pod', 'slot-0'))).toBe(false);
      c.removeRoots();
      expect(existsSync(join(own, 'executor-pod'))).toBe(false);
    } finally {
      sleeper.kill('SIGKILL');
      await sleeperExited; // out of the cgroup before afterAll removes it
    }
  });
});
