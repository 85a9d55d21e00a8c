import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { SessionCgroup } from './cgroups';

/** Paths of the sandbox as seen from inside it (bwrap) — or the host paths (none). */
export const SANDBOX_WORKSPACE = '/workspace';
export const SANDBOX_TMP = '/tmp';
export const SANDBOX_KERNELS = '/opt/executor/kernels';
export const SANDBOX_TYPESCRIPT = '/opt/executor/node_modules/typescript';

/** PATH of every session process: system directories only (never the executor's PATH, e.g. pyenv shims). */
export const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin';

/** One isolated place for a session: its own uid (when root), directories and cgroup. */
export interface Slot {
  readonly index: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Host directory holding `work` and `tmp`. */
  readonly dir: string;
  /** Host path of the workspace. */
  readonly work: string;
  /** Host path of the private /tmp (HOME, build dirs, caches). */
  readonly tmp: string;
  readonly cgroup?: SessionCgroup;
}

export interface SandboxOptions {
  mode: 'bwrap' | 'none';
  /** Host directory of the kernel scripts. */
  kernelsDir: string;
  /** Host directory of the `typescript` package (typescript kernel), if found. */
  typescriptDir?: string;
  maxProcesses: number;
  maxFileBytes: number;
  memoryBytes: number;
  /** True when sessions run under their own uid (then RLIMIT_NPROC separates them). */
  distinctUids: boolean;
}

export interface SpawnSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  uid?: number;
  gid?: number;
}

export interface SpawnRequest {
  argv: string[];
  env: Record<string, string>;
  network: boolean;
  /** Apply RLIMIT_AS (only runtimes that tolerate it, and only without a memory cgroup). */
  addressSpaceLimit: boolean;
  /** Working directory inside the sandbox (default: the workspace). */
  cwd?: string;
  /** Host directories bound read-only at the same path (bwrap). */
  roBinds?: string[];
  /**
   * Host paths bound at another path inside the sandbox (bwrap; with SANDBOX=none the caller uses
   * `src` directly). Used by the package installer for its private staging directory and the
   * index proxy's socket, which no other process of the session sees.
   */
  binds?: Array<{ src: string; dest: string; writable?: boolean }>;
}

const ROOT_LINKS = ['bin', 'lib', 'lib32', 'lib64', 'libx32', 'sbin'];

/** Builds the argv that runs a session process with its limits, in bwrap or as a plain child. */
export class Sandbox {
  private readonly rootArgs: string[];

  constructor(private readonly opts: SandboxOptions) {
    this.rootArgs = opts.mode === 'bwrap' ? this.bwrapRoot() : [];
  }

  get mode(): 'bwrap' | 'none' {
    return this.opts.mode;
  }

  workspace(slot: Slot): string {
    return this.opts.mode === 'bwrap' ? SANDBOX_WORKSPACE : slot.work;
  }

  tmp(slot: Slot): string {
    return this.opts.mode === 'bwrap' ? SANDBOX_TMP : slot.tmp;
  }

  kernelsDir(): string {
    return this.opts.mode === 'bwrap' ? SANDBOX_KERNELS : this.opts.kernelsDir;
  }

  typescriptDir(): string | undefined {
    if (!this.opts.typescriptDir) return undefined;
    return this.opts.mode === 'bwrap' ? SANDBOX_TYPESCRIPT : this.opts.typescriptDir;
  }

  /** The base environment of every session process (clean: nothing from the executor's env). */
  baseEnv(slot: Slot): Record<string, string> {
    const tmp = this.tmp(slot);
    const ws = this.workspace(slot);
    return {
      PATH: SANDBOX_PATH,
      HOME: join(tmp, 'home'),
      TMPDIR: tmp,
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      PYTHONPATH: join(ws, '.packages/python'),
      PYTHONDONTWRITEBYTECODE: '1',
      PYTHONUNBUFFERED: '1',
      PIP_DISABLE_PIP_VERSION_CHECK: '1',
      PIP_NO_CACHE_DIR: '1',
      npm_config_cache: join(tmp, 'npm-cache'),
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
      ...(this.typescriptDir() ? { EXECUTOR_TYPESCRIPT: this.typescriptDir() as string } : {}),
    };
  }

  spec(slot: Slot, req: SpawnRequest): SpawnSpec {
    const limits = [
      `--fsize=${this.opts.maxFileBytes}`,
      '--core=0',
      ...(this.opts.distinctUids ? [`--nproc=${this.opts.maxProcesses}`] : []),
      ...(req.addressSpaceLimit && !slot.cgroup?.memory ? [`--as=${this.opts.memoryBytes}`] : []),
    ];
    const inner =
      this.opts.mode === 'bwrap'
        ? ['/usr/bin/bwrap', ...this.bwrapArgs(slot, req), '--', ...req.argv]
        : req.argv;
    let argv = ['/usr/bin/prlimit', ...limits, '--', ...inner];
    const procs = slot.cgroup?.procsFiles ?? [];
    if (procs.length) {
      // Join the session's cgroups before exec, so that no process of the session ever runs outside them.
      argv = [
        '/bin/sh',
        '-c',
        'for f in $CG; do echo $$ > "$f" || exit 125; done; unset CG; exec "$@"',
        'sh',
        ...argv,
      ];
    }
    const env = { ...req.env, ...(procs.length ? { CG: procs.join(' ') } : {}) };
    return {
      command: argv[0] as string,
      args: argv.slice(1),
      env,
      cwd: this.opts.mode === 'bwrap' ? slot.work : (req.cwd ?? slot.work),
      uid: slot.uid,
      gid: slot.gid,
    };
  }

  private bwrapRoot(): string[] {
    const args = ['--ro-bind', '/usr', '/usr', '--ro-bind', '/etc', '/etc'];
    for (const name of ROOT_LINKS) {
      const p = `/${name}`;
      if (!existsSync(p)) continue;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(p), p);
      else args.push('--ro-bind', p, p);
    }
    args.push('--ro-bind', this.opts.kernelsDir, SANDBOX_KERNELS);
    if (this.opts.typescriptDir) args.push('--ro-bind', this.opts.typescriptDir, SANDBOX_TYPESCRIPT);
    return args;
  }

  private bwrapArgs(slot: Slot, req: SpawnRequest): string[] {
    return [
      '--die-with-parent',
      '--new-session',
      '--unshare-all',
      ...(req.network ? ['--share-net'] : []),
      '--hostname',
      'sandbox',
      ...this.rootArgs,
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--bind',
      slot.tmp,
      SANDBOX_TMP,
      '--bind',
      slot.work,
      SANDBOX_WORKSPACE,
      ...(req.roBinds ?? []).flatMap((d) => ['--ro-bind', d, d]),
      ...(req.binds ?? []).flatMap((b) => [b.writable ? '--bind' : '--ro-bind', b.src, b.dest]),
      // the sandbox's own root (a tmpfs holding the mount points) is read-only too
      '--remount-ro',
      '/',
      '--chdir',
      req.cwd ?? SANDBOX_WORKSPACE,
    ];
  }
}
