import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';

/** The controllers a session's cgroup uses. */
export const SESSION_CONTROLLERS = ['pids', 'memory', 'cpu'] as const;
export type SessionController = (typeof SESSION_CONTROLLERS)[number];

/** What this machine offers to contain a session's processes (measured at boot, in the containment report). */
export interface CgroupSupport {
  /** `v1`, `v2`, `hybrid` (controllers from both), or `none`. */
  version: 'v1' | 'v2' | 'hybrid' | 'none';
  pids: boolean;
  memory: boolean;
  cpu: boolean;
  /** Directories under which the slots' cgroups are created (one per hierarchy used). */
  roots: string[];
  reason: string;
}

/** Limits of one session's cgroup. */
export interface CgroupLimits {
  pidsMax: number;
  memoryBytes: number;
  /** v1 `cpu.shares` (v2 `cpu.weight` is derived: shares × 100 / 1024). */
  cpuShares: number;
  /** CPU quota in cores (0: none). */
  cpuCores: number;
}

/** One session's cgroup(s): every process of the session runs in them. */
export interface SessionCgroup {
  /** `cgroup.procs` files a process must join (written by the spawn wrapper before exec). */
  readonly procsFiles: string[];
  /** True when a memory limit applies to the group. */
  readonly memory: boolean;
  /** True when the memory controller killed a process of this group since `resetOom()`. */
  oomKilled(): boolean;
  resetOom(): void;
  /** PIDs in the group (to kill processes that left the process group). */
  pids(): number[];
  /** Kills every process of the group (waits until it is empty). */
  kill(): void;
  /** Kills every process of the group and removes it. */
  remove(): void;
}

/** One line of /proc/<pid>/cgroup. */
export interface ProcCgroupLine {
  id: number;
  controllers: string[];
  path: string;
}

/** The fields of one /proc/<pid>/mountinfo line that locate a cgroup hierarchy. */
export interface MountinfoLine {
  root: string;
  mountPoint: string;
  fsType: string;
  superOptions: string[];
}

/** Parses /proc/<pid>/cgroup (`hierarchy-id:controller-list:path`). */
export function parseProcCgroup(text: string): ProcCgroupLine[] {
  const out: ProcCgroupLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    out.push({
      id: Number(m[1]),
      controllers: (m[2] as string).split(',').filter(Boolean),
      path: m[3] as string,
    });
  }
  return out;
}

/** Unescapes the octal escapes of mountinfo (`\040` for a space …). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses /proc/<pid>/mountinfo. */
export function parseMountinfo(text: string): MountinfoLine[] {
  const out: MountinfoLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const f = pre.split(' ');
    const p = post.split(' ');
    out.push({
      root: unescapeMount(f[3] ?? ''),
      mountPoint: unescapeMount(f[4] ?? ''),
      fsType: p[0] ?? '',
      superOptions: (p[2] ?? '').split(','),
    });
  }
  return out;
}

/** A cgroup hierarchy this process is in, and its own cgroup's directory there. */
export interface OwnCgroup {
  version: 1 | 2;
  /** Controllers of this hierarchy that sessions use. */
  controllers: SessionController[];
  /** Host directory of the executor's own cgroup in this hierarchy. */
  dir: string;
}

/**
 * Locates the executor's own cgroup for each session controller: cgroup v1 when a v1 hierarchy carries the
 * controller, else v2 when the unified hierarchy offers it (`cgroup.controllers` of the own cgroup's parent
 * chain, read at the own cgroup). Paths come from /proc/self/cgroup and are mapped through the mount's root
 * (containers mount a sub-tree of the hierarchy).
 */
export function locateOwnCgroups(procCgroup: string, mountinfo: string): OwnCgroup[] {
  const lines = parseProcCgroup(procCgroup);
  const mounts = parseMountinfo(mountinfo);
  const found: OwnCgroup[] = [];
  const taken = new Set<SessionController>();
  const dirOf = (mount: MountinfoLine, path: string): string | undefined => {
    const rel = relative(mount.root, path);
    if (rel.startsWith('..') || isAbsolute(rel)) return undefined; // own cgroup outside the mounted sub-tree
    return join(mount.mountPoint, rel);
  };
  for (const line of lines) {
    if (line.id === 0) continue;
    const wanted = SESSION_CONTROLLERS.filter((c) => line.controllers.includes(c) && !taken.has(c));
    if (!wanted.length) continue;
    const mount = mounts.find(
      (m) => m.fsType === 'cgroup' && wanted.every((c) => m.superOptions.includes(c)),
    );
    const dir = mount && dirOf(mount, line.path);
    if (!dir) continue;
    found.push({ version: 1, controllers: wanted, dir });
    wanted.forEach((c) => taken.add(c));
  }
  const unified = lines.find((l) => l.id === 0);
  const mount2 = mounts.find((m) => m.fsType === 'cgroup2');
  if (unified && mount2) {
    const dir = dirOf(mount2, unified.path);
    if (dir) {
      const available = readText(join(dir, 'cgroup.controllers')).split(/\s+/);
      const wanted = SESSION_CONTROLLERS.filter((c) => available.includes(c) && !taken.has(c));
      if (wanted.length) found.push({ version: 2, controllers: wanted, dir });
    }
  }
  return found;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function readInt(file: string, field?: string): number {
  const text = readText(file);
  if (!field) return Number(text.trim()) || 0;
  const m = new RegExp(`^${field} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** mkdir that tolerates an existing directory (never recursive: cgroupfs and /proc answer oddly to that). */
function ensureDir(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function readPids(dir: string): number[] {
  return readText(join(dir, 'cgroup.procs')).split('\n').filter(Boolean).map(Number);
}

/** The pod's parent cgroup in one hierarchy: `<own cgroup>/<name>`, slots below it. */
interface Root {
  version: 1 | 2;
  controllers: SessionController[];
  dir: string;
}

const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/**
 * Per-session cgroups, nested under the executor's own cgroup (never at a hierarchy's root: the pod's or
 * the service's limits keep applying to every session). cgroup v1 (one hierarchy per controller or
 * combined ones such as `cpu,cpuacct`) and v2 (a delegated subtree) are supported, also mixed.
 *
 * cgroup v2 forbids processes in a cgroup whose `cgroup.subtree_control` enables controllers ("no internal
 * processes"): when the own cgroup holds processes (the executor, and tini in a container), they are moved
 * into a leaf `<own>/executor` first, then the controllers are enabled for `<own>/<name>` and the slots.
 */
export class Cgroups {
  readonly support: CgroupSupport;
  private readonly roots: Root[] = [];

  constructor(
    private readonly name: string,
    own: OwnCgroup[] = locateOwnCgroups(readText('/proc/self/cgroup'), readText('/proc/self/mountinfo')),
  ) {
    this.support = this.setup(own);
  }

  private setup(own: OwnCgroup[]): CgroupSupport {
    const problems: string[] = [];
    for (const o of own) {
      try {
        const dir = o.version === 1 ? this.setupV1(o) : this.setupV2(o);
        this.roots.push({ version: o.version, controllers: o.controllers, dir });
      } catch (err) {
        problems.push(`${o.controllers.join(',')} (v${o.version} at ${o.dir}): ${(err as Error).message}`);
      }
    }
    const has = (c: SessionController): boolean => this.roots.some((r) => r.controllers.includes(c));
    const versions = new Set(this.roots.map((r) => r.version));
    const version =
      versions.size === 0 ? 'none' : versions.size === 2 ? 'hybrid' : versions.has(1) ? 'v1' : 'v2';
    const missing = SESSION_CONTROLLERS.filter((c) => !has(c));
    const reason =
      (this.roots.length
        ? `cgroup ${version}: ${this.roots.map((r) => `${r.controllers.join(',')} under ${r.dir}`).join('; ')}`
        : 'no writable cgroup') +
      (missing.length ? `; missing: ${missing.join(', ')}` : '') +
      (problems.length ? `; not usable: ${problems.join('; ')}` : '') +
      (own.length === 0 ? ' (no cgroup hierarchy with pids/memory/cpu found in /proc/self/cgroup)' : '');
    return {
      version,
      pids: has('pids'),
      memory: has('memory'),
      cpu: has('cpu'),
      roots: this.roots.map((r) => r.dir),
      reason,
    };
  }

  private setupV1(o: OwnCgroup): string {
    if (!writable(o.dir)) throw new Error('own cgroup is not writable (not delegated)');
    const dir = join(o.dir, this.name);
    ensureDir(dir);
    this.cleanChildren(dir);
    return dir;
  }

  private setupV2(o: OwnCgroup): string {
    if (!writable(o.dir) || !writable(join(o.dir, 'cgroup.subtree_control')))
      throw new Error('own cgroup is not writable (not delegated)');
    const enable = o.controllers.map((c) => `+${c}`).join(' ');
    const enabled = (dir: string): boolean => {
      const on = readText(join(dir, 'cgroup.subtree_control')).split(/\s+/);
      return o.controllers.every((c) => on.includes(c));
    };
    if (!enabled(o.dir)) {
      // The hierarchy's real root has no cgroup.type and is exempt from the no-internal-processes rule.
      if (existsSync(join(o.dir, 'cgroup.type')) && readPids(o.dir).length) {
        const leaf = join(o.dir, 'executor');
        ensureDir(leaf);
        for (const pid of readPids(o.dir)) {
          try {
            writeFileSync(join(leaf, 'cgroup.procs'), String(pid));
          } catch {
            // exited meanwhile (or a kernel thread): ignore
          }
        }
      }
      writeFileSync(join(o.dir, 'cgroup.subtree_control'), enable);
    }
    const dir = join(o.dir, this.name);
    ensureDir(dir);
    this.cleanChildren(dir);
    if (!enabled(dir)) writeFileSync(join(dir, 'cgroup.subtree_control'), enable);
    return dir;
  }

  /** Removes slot cgroups left by a previous executor of this pod that crashed. */
  private cleanChildren(dir: string): void {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) killAndRemove(join(dir, e.name));
    }
  }

  /** Creates the cgroup(s) of one slot. Throws when a limit cannot be written (never a slot without limits). */
  create(id: string, limits: CgroupLimits): SessionCgroup | undefined {
    if (!this.roots.length) return undefined;
    const dirs: string[] = [];
    let memory: { dir: string; v2: boolean } | undefined;
    try {
      for (const root of this.roots) {
        const dir = join(root.dir, id);
        if (existsSync(dir)) killAndRemove(dir);
        mkdirSync(dir);
        dirs.push(dir);
        const w = (file: string, value: string | number): void =>
          writeFileSync(join(dir, file), String(value));
        for (const c of root.controllers) {
          if (c === 'pids') w('pids.max', limits.pidsMax);
          if (c === 'memory') {
            if (root.version === 1) {
              w('memory.limit_in_bytes', limits.memoryBytes);
              if (existsSync(join(dir, 'memory.memsw.limit_in_bytes')))
                w('memory.memsw.limit_in_bytes', limits.memoryBytes);
            } else {
              w('memory.max', limits.memoryBytes);
              if (existsSync(join(dir, 'memory.swap.max'))) w('memory.swap.max', 0);
            }
            memory = { dir, v2: root.version === 2 };
          }
          if (c === 'cpu') {
            const period = 100_000;
            const quota = limits.cpuCores > 0 ? Math.max(1000, Math.round(limits.cpuCores * period)) : 0;
            if (root.version === 1) {
              w('cpu.shares', limits.cpuShares);
              if (quota) {
                w('cpu.cfs_period_us', period);
                w('cpu.cfs_quota_us', quota);
              }
            } else {
              w('cpu.weight', Math.min(10_000, Math.max(1, Math.round((limits.cpuShares * 100) / 1024))));
              w('cpu.max', quota ? `${quota} ${period}` : `max ${period}`);
            }
          }
        }
      }
    } catch (err) {
      for (const d of dirs) killAndRemove(d);
      throw new Error(`cannot create the cgroup of ${id}: ${(err as Error).message}`);
    }
    const oomCount = (): number =>
      memory
        ? memory.v2
          ? readInt(join(memory.dir, 'memory.events'), 'oom_kill')
          : readInt(join(memory.dir, 'memory.oom_control'), 'oom_kill')
        : 0;
    let oomBase = oomCount();
    return {
      procsFiles: dirs.map((d) => join(d, 'cgroup.procs')),
      memory: memory !== undefined,
      oomKilled: () => oomCount() > oomBase,
      resetOom: () => {
        oomBase = oomCount();
      },
      pids: () => [...new Set(dirs.flatMap((d) => readPids(d)))],
      kill: () => dirs.forEach((d) => killAll(d)),
      remove: () => dirs.forEach((d) => killAndRemove(d)),
    };
  }

  /** Removes this pod's (empty) parent cgroups at exit; slots must have been released. */
  removeRoots(): void {
    for (const root of this.roots) {
      try {
        this.cleanChildren(root.dir);
        rmdirSync(root.dir);
      } catch {
        // still in use (a slot was not released) or already gone
      }
    }
  }
}

function killPids(dir: string): number {
  const pids = readPids(dir);
  if (pids.length && existsSync(join(dir, 'cgroup.kill'))) {
    try {
      writeFileSync(join(dir, 'cgroup.kill'), '1'); // v2: the kernel kills the whole group at once
    } catch {
      // fall back to signals
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  return pids.length;
}

/** Kills every process of a cgroup (several rounds: a fork bomb forks while being killed). */
function killAll(dir: string): void {
  for (let i = 0; i < 200 && killPids(dir) > 0; i++) sleep(5);
}

/** Kills every process of a cgroup and removes it. */
function killAndRemove(dir: string): void {
  for (let i = 0; i < 200; i++) {
    killPids(dir);
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      // processes still exiting: try again
    }
    sleep(5);
  }
}
