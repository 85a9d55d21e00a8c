import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { SessionCgroup } from './cgroups';
import { SANDBOX_GID, SANDBOX_HOSTNAME, SANDBOX_UID, SANDBOX_USER, type EtcEntry } from './sandbox-etc';
import { SECCOMP_FD } from './seccomp';

/** Paths of the sandbox as seen from inside it (bwrap) — D1. In `none` mode the host paths are used instead. */
export const SANDBOX_HOME = `/home/${SANDBOX_USER}`;
/** The session's workspace inside the sandbox: its home directory, cwd of kernels and commands. */
export const SANDBOX_WORKSPACE = SANDBOX_HOME;
export const SANDBOX_TMP = '/tmp';
export const SANDBOX_KERNELS = '/opt/executor/kernels';
export const SANDBOX_TYPESCRIPT = '/opt/executor/node_modules/typescript';

/** PATH of every session process: system directories only (never the executor's PATH, e.g. pyenv shims). */
export const SANDBOX_PATH = '/usr/local/bin:/usr/bin:/bin';

/** Exit code of the spawn wrapper when the process could not join its cgroup (it never runs outside it). */
export const CGROUP_JOIN_FAILED = 125;

/** One isolated place for a session: its own uid (when root), storage (a tmpfs when root) and cgroup. */
export interface Slot {
  readonly index: number;
  /** uid/gid of the session's processes outside the sandbox (root executor), else the executor's own. */
  readonly uid?: number;
  readonly gid?: number;
  /** Host directory holding `work` and `tmp` (the slot's tmpfs mount point when `tmpfs`). */
  readonly dir: string;
  /** Host path of the workspace (/home/user inside). */
  readonly work: string;
  /** Host path of the private /tmp. */
  readonly tmp: string;
  /** True when `dir` is a tmpfs bounded by WORKSPACE_MAX_BYTES / WORKSPACE_MAX_FILES. */
  readonly tmpfs: boolean;
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
  /** bwrap: compiled seccomp program (host path). */
  seccompPath?: string;
  /** bwrap: the allowlisted host /etc entries. */
  etc?: EtcEntry[];
  /** bwrap: host directory of the generated /etc files (passwd, group, hosts, …). */
  generatedEtcDir?: string;
  /** bwrap: size of the sandbox's /dev/shm tmpfs. */
  shmBytes?: number;
}

/** A host file passed to the spawned process as an open fd (read-only), e.g. the seccomp program. */
export interface SpawnFile {
  fd: number;
  path: string;
}

/**
 * How to start one session process (the result of `Sandbox.spec`; started by `spawnTree`). The process
 * is always started as the executor's own uid: the wrapper in `command`/`args` joins the slot's cgroup,
 * then drops to the slot's uid (`setpriv`), sets the rlimits (`prlimit`) and enters bwrap.
 */
export interface SpawnSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** Host working directory of the wrapper (inside the sandbox, bwrap's --chdir applies). */
  cwd: string;
  /** uid/gid for the spawn itself (unset: privileges are dropped by the wrapper). */
  uid?: number;
  gid?: number;
  /** Files opened read-only and passed at these fds (beyond the caller's stdio; fds ≥ 8 are the sandbox's). */
  files?: SpawnFile[];
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

/** Joins the slot's cgroup(s), makes session processes the first OOM victims of the pod, then execs. */
const WRAPPER =
  'echo 1000 > /proc/self/oom_score_adj 2>/dev/null; ' +
  `for f in $EXECUTOR_CG; do echo $$ > "$f" || exit ${CGROUP_JOIN_FAILED}; done; ` +
  'unset EXECUTOR_CG; exec "$@"';

/** Builds the argv that runs a session process with its limits, in bwrap or as a plain child. */
export class Sandbox {
  private readonly rootArgs: string[];

  constructor(private readonly opts: SandboxOptions) {
    if (opts.mode === 'bwrap' && !opts.seccompPath) throw new Error('bwrap sandbox without a seccomp filter');
    this.rootArgs = opts.mode === 'bwrap' ? this.bwrapRoot() : [];
  }

  get mode(): 'bwrap' | 'none' {
    return this.opts.mode;
  }

  /** The workspace as session code sees it (`/home/user` in bwrap). */
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
      HOME: ws,
      USER: SANDBOX_USER,
      LOGNAME: SANDBOX_USER,
      TMPDIR: tmp,
      XDG_CACHE_HOME: join(tmp, '.cache'),
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
    const bwrap = this.opts.mode === 'bwrap';
    const inner = bwrap ? ['/usr/bin/bwrap', ...this.bwrapArgs(slot, req), '--', ...req.argv] : req.argv;
    let argv = ['/usr/bin/prlimit', ...limits, '--', ...inner];
    if (slot.uid !== undefined) {
      // Root executor: the session runs as its own uid, without capabilities or supplementary groups.
      argv = [
        '/usr/bin/setpriv',
        `--reuid=${slot.uid}`,
        `--regid=${slot.gid ?? slot.uid}`,
        '--clear-groups',
        '--inh-caps=-all',
        '--bounding-set=-all',
        '--no-new-privs',
        '--',
        ...argv,
      ];
    }
    const procs = slot.cgroup?.procsFiles ?? [];
    return {
      command: '/bin/sh',
      args: ['-c', WRAPPER, 'sh', ...argv],
      env: { ...req.env, ...(procs.length ? { EXECUTOR_CG: procs.join(' ') } : {}) },
      cwd: bwrap ? slot.work : (req.cwd ?? slot.work),
      files: bwrap ? [{ fd: SECCOMP_FD, path: this.opts.seccompPath as string }] : undefined,
    };
  }

  private bwrapRoot(): string[] {
    const args = ['--ro-bind', '/usr', '/usr'];
    for (const name of ROOT_LINKS) {
      const p = `/${name}`;
      if (!existsSync(p)) continue;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(p), p);
      else args.push('--ro-bind', p, p);
    }
    for (const e of this.opts.etc ?? []) {
      if (e.kind === 'bind') args.push('--ro-bind', e.src, e.dest);
      else args.push('--symlink', e.target, e.dest);
    }
    const gen = this.opts.generatedEtcDir as string;
    for (const f of ['passwd', 'group', 'hosts', 'hostname', 'nsswitch.conf'])
      args.push('--ro-bind', join(gen, f), `/etc/${f}`);
    args.push('--ro-bind', this.opts.kernelsDir, SANDBOX_KERNELS);
    if (this.opts.typescriptDir) args.push('--ro-bind', this.opts.typescriptDir, SANDBOX_TYPESCRIPT);
    return args;
  }

  private bwrapArgs(slot: Slot, req: SpawnRequest): string[] {
    const gen = this.opts.generatedEtcDir as string;
    return [
      '--die-with-parent',
      '--new-session',
      '--unshare-all',
      ...(req.network ? ['--share-net'] : []),
      // Own user namespace: uid/gid 1000 inside, the slot's uid outside; no further user namespaces.
      '--unshare-user',
      '--uid',
      String(SANDBOX_UID),
      '--gid',
      String(SANDBOX_GID),
      '--disable-userns',
      '--hostname',
      SANDBOX_HOSTNAME,
      '--seccomp',
      String(SECCOMP_FD),
      ...this.rootArgs,
      '--ro-bind',
      join(gen, req.network ? 'resolv.conf.net' : 'resolv.conf'),
      '/etc/resolv.conf',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--perms',
      '1777',
      '--size',
      String(this.opts.shmBytes ?? 64 * 1024 * 1024),
      '--tmpfs',
      '/dev/shm',
      '--bind',
      slot.work,
      SANDBOX_WORKSPACE,
      '--bind',
      slot.tmp,
      SANDBOX_TMP,
      ...(req.roBinds ?? []).flatMap((d) => ['--ro-bind', d, d]),
      ...(req.binds ?? []).flatMap((b) => [b.writable ? '--bind' : '--ro-bind', b.src, b.dest]),
      // /dev (bwrap's tmpfs of device nodes) and the sandbox's own root (a tmpfs holding the mount
      // points) are read-only: the workspace, /tmp and /dev/shm are the only writable places.
      '--remount-ro',
      '/dev',
      '--remount-ro',
      '/',
      '--chdir',
      req.cwd ?? SANDBOX_WORKSPACE,
    ];
  }
}
