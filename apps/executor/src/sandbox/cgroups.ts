import {
  existsSync,
  mkdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
  accessSync,
  constants,
  chownSync,
} from 'node:fs';
import { join } from 'node:path';

/** What this machine offers to contain a session's processes (measured at boot, logged, in /metrics). */
export interface CgroupSupport {
  version: 'v1' | 'v2' | 'none';
  pids: boolean;
  memory: boolean;
  reason: string;
}

/** One session's cgroup(s): pids and memory limits for every process of the session. */
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
  remove(): void;
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function readInt(file: string, field?: string): number {
  try {
    const text = readFileSync(file, 'utf8');
    if (!field) return Number(text.trim()) || 0;
    const m = new RegExp(`^${field} (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Per-session cgroups. cgroup v1 (separate `pids` and `memory` hierarchies) and v2 (a delegated,
 * writable subtree with `pids`/`memory` in `cgroup.subtree_control`) are supported; without a
 * writable hierarchy (the usual unprivileged pod) `support.version` is `none` and the sandbox falls
 * back to rlimits.
 */
export class Cgroups {
  readonly support: CgroupSupport;
  private readonly roots: { pids?: string; memory?: string; unified?: string } = {};

  constructor(
    private readonly name: string,
    base = '/sys/fs/cgroup',
  ) {
    this.support = this.detect(base);
  }

  private detect(base: string): CgroupSupport {
    try {
      if (existsSync(join(base, 'cgroup.controllers'))) {
        const controllers = readFileSync(join(base, 'cgroup.subtree_control'), 'utf8');
        if (!writable(base))
          return { version: 'none', pids: false, memory: false, reason: 'cgroup v2 hierarchy is read-only' };
        const root = join(base, this.name);
        mkdirSync(root, { recursive: true });
        const want = ['pids', 'memory'].filter((c) => controllers.includes(c));
        if (want.length)
          writeFileSync(join(root, 'cgroup.subtree_control'), want.map((c) => `+${c}`).join(' '));
        this.roots.unified = root;
        return {
          version: 'v2',
          pids: want.includes('pids'),
          memory: want.includes('memory'),
          reason: `cgroup v2 at ${root}`,
        };
      }
      const pids = join(base, 'pids');
      const memory = join(base, 'memory');
      const hasPids = existsSync(join(pids, 'cgroup.procs')) && writable(pids);
      const hasMem = existsSync(join(memory, 'cgroup.procs')) && writable(memory);
      if (hasPids) {
        this.roots.pids = join(pids, this.name);
        mkdirSync(this.roots.pids, { recursive: true });
      }
      if (hasMem) {
        this.roots.memory = join(memory, this.name);
        mkdirSync(this.roots.memory, { recursive: true });
      }
      if (!hasPids && !hasMem)
        return { version: 'none', pids: false, memory: false, reason: 'no writable cgroup hierarchy' };
      return {
        version: 'v1',
        pids: hasPids,
        memory: hasMem,
        reason: `cgroup v1 (pids: ${hasPids}, memory: ${hasMem})`,
      };
    } catch (err) {
      return {
        version: 'none',
        pids: false,
        memory: false,
        reason: `cgroups unusable: ${(err as Error).message}`,
      };
    }
  }

  /** Creates the cgroup(s) of one slot; `owner` (uid) may then join them. */
  create(
    id: string,
    limits: { pidsMax: number; memoryBytes: number },
    owner?: number,
  ): SessionCgroup | undefined {
    const dirs: string[] = [];
    let memDir: string | undefined;
    const prepare = (dir: string): void => {
      if (existsSync(dir)) this.killAndRemove(dir);
      mkdirSync(dir, { recursive: true });
      dirs.push(dir);
      if (owner !== undefined) chownSync(join(dir, 'cgroup.procs'), owner, -1);
    };
    try {
      if (this.roots.unified) {
        const dir = join(this.roots.unified, id);
        prepare(dir);
        if (this.support.pids) writeFileSync(join(dir, 'pids.max'), String(limits.pidsMax));
        if (this.support.memory) {
          writeFileSync(join(dir, 'memory.max'), String(limits.memoryBytes));
          try {
            writeFileSync(join(dir, 'memory.swap.max'), '0');
          } catch {
            // no swap accounting
          }
          memDir = dir;
        }
      } else {
        if (this.roots.pids) {
          const dir = join(this.roots.pids, id);
          prepare(dir);
          writeFileSync(join(dir, 'pids.max'), String(limits.pidsMax));
        }
        if (this.roots.memory) {
          const dir = join(this.roots.memory, id);
          prepare(dir);
          writeFileSync(join(dir, 'memory.limit_in_bytes'), String(limits.memoryBytes));
          memDir = dir;
        }
      }
    } catch {
      for (const d of dirs) this.killAndRemove(d);
      return undefined;
    }
    if (dirs.length === 0) return undefined;
    const v2 = !!this.roots.unified;
    let oomBase = memDir ? this.oomCount(memDir, v2) : 0;
    return {
      procsFiles: dirs.map((d) => join(d, 'cgroup.procs')),
      memory: memDir !== undefined,
      oomKilled: () => (memDir ? this.oomCount(memDir, v2) > oomBase : false),
      resetOom: () => {
        oomBase = memDir ? this.oomCount(memDir, v2) : 0;
      },
      pids: () => [...new Set(dirs.flatMap((d) => this.readPids(d)))],
      remove: () => dirs.forEach((d) => this.killAndRemove(d)),
    };
  }

  /** Removes this pod's (empty) parent cgroups at exit; slots must have been released. */
  removeRoots(): void {
    for (const dir of [this.roots.pids, this.roots.memory, this.roots.unified]) {
      if (!dir) continue;
      try {
        rmdirSync(dir);
      } catch {
        // still in use (a slot was not released) or already gone
      }
    }
  }

  private oomCount(dir: string, v2: boolean): number {
    return v2
      ? readInt(join(dir, 'memory.events'), 'oom_kill')
      : readInt(join(dir, 'memory.oom_control'), 'oom_kill');
  }

  private readPids(dir: string): number[] {
    try {
      return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  private killAndRemove(dir: string): void {
    for (let i = 0; i < 20; i++) {
      const pids = this.readPids(dir);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      try {
        rmdirSync(dir);
        return;
      } catch {
        // processes still exiting: try again
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}
