import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { spawnSync } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  AUTO_UID_STRIDE,
  EXECUTOR_CONFIG,
  resolveUidBase,
  type ExecutorConfig,
} from '../config/executor.config';
import { Cgroups, type CgroupLimits } from './cgroups';
import { assessContainment, type ContainmentReport } from './containment';
import { mountTmpfs, mountsUnder, unmount } from './mounts';
import { Sandbox, type Slot } from './sandbox';
import { etcEntries, writeGeneratedEtc } from './sandbox-etc';
import { compileSeccomp, type SeccompFilter } from './seccomp';
import { SlotAllocator, prepareWorkspaceRoot } from './slots';

const MiB = 1024 * 1024;
/** Size of the sandbox's /dev/shm (POSIX shared memory, semaphores): Docker's default, at most the workspace size. */
const SHM_BYTES = 64 * MiB;

/** Finds the kernel scripts: next to the bundle (assets) or in the sources (tests). */
export function findKernelsDir(): string {
  const candidates = [
    process.env['EXECUTOR_KERNELS_DIR'],
    join(__dirname, 'kernels'),
    join(__dirname, '..', 'kernels'),
    join(__dirname, '..', 'src', 'kernels'),
  ];
  for (const c of candidates) if (c && existsSync(join(c, 'python_kernel.py'))) return c;
  throw new Error(
    `kernel scripts not found (looked in ${candidates.filter(Boolean).join(', ')}); set EXECUTOR_KERNELS_DIR`,
  );
}

/** Directory of the `typescript` package (the typescript kernel needs it at run time). */
export function findTypescriptDir(): string | undefined {
  for (const base of [join(__dirname, 'x.js'), join(process.cwd(), 'x.js')]) {
    try {
      return dirname(createRequire(base).resolve('typescript/package.json'));
    } catch {
      // try the next base
    }
  }
  return undefined;
}

/** Throws when a root executor would give sessions uid 0 or uids outside the valid range. */
export function checkUidRange(cfg: ExecutorConfig, root: boolean): void {
  if (!root) return;
  const base = resolveUidBase(cfg);
  if (base === 0)
    throw new Error(
      'refusing to start: the executor runs as root and SANDBOX_UID_BASE=0 would run sessions as root; set SANDBOX_UID_BASE to a free uid range or to auto (the default)',
    );
  const last = base + cfg.MAX_SESSIONS + cfg.WARM_KERNELS + 64;
  if (last >= 0xffff_fffe)
    throw new Error(`refusing to start: SANDBOX_UID_BASE ${base} leaves no room for the slot uids`);
  if (cfg.SANDBOX_UID_BASE === 'auto' && cfg.MAX_SESSIONS + cfg.WARM_KERNELS + 64 > AUTO_UID_STRIDE)
    throw new Error(
      `refusing to start: MAX_SESSIONS + WARM_KERNELS needs more than the ${AUTO_UID_STRIDE} uids of an automatic range; set SANDBOX_UID_BASE explicitly`,
    );
}

/**
 * The sandbox of this pod, set up at boot: seccomp filter, /etc view, cgroups, slot storage and uids, the
 * argv builder, and the containment report. When the sandbox cannot contain sessions, the executor keeps
 * running but refuses every session (`containment.ready` false, with the reason); a root executor with
 * `SANDBOX_UID_BASE=0` refuses to start.
 */
@Injectable()
export class SandboxService implements OnApplicationShutdown {
  private readonly logger = new Logger(SandboxService.name);
  readonly sandbox: Sandbox;
  readonly slots: SlotAllocator;
  readonly cgroups?: Cgroups;
  readonly distinctUids: boolean;
  /** First session uid (SANDBOX_UID_BASE resolved; see resolveUidBase). */
  readonly uidBase: number;
  /** What contains this pod's sessions (plain value, see ContainmentReport). */
  readonly containment: ContainmentReport;
  /** Host directory of the sandbox's generated files (seccomp program, /etc files). */
  readonly runtimeDir: string;

  constructor(@Inject(EXECUTOR_CONFIG) private readonly cfg: ExecutorConfig) {
    const uid = process.getuid?.() ?? 0;
    const root = uid === 0;
    checkUidRange(cfg, root);
    this.uidBase = resolveUidBase(cfg);
    this.distinctUids = root && this.uidBase > 0;
    const bwrap = cfg.SANDBOX === 'bwrap';
    if (!bwrap)
      this.logger.warn(
        'SANDBOX=none: session code runs as plain child processes (no namespaces, no seccomp, the pod is the only boundary)',
      );
    prepareWorkspaceRoot(cfg.WORKSPACE_ROOT);
    this.runtimeDir = join(cfg.WORKSPACE_ROOT, '.sandbox');
    for (const m of mountsUnder(this.runtimeDir)) unmount(m);
    rmSync(this.runtimeDir, { recursive: true, force: true });
    mkdirSync(this.runtimeDir, { mode: 0o755 });

    let seccomp: SeccompFilter | undefined;
    let seccompError: string | undefined;
    let bwrapError: string | undefined;
    const genEtc = join(this.runtimeDir, 'etc');
    if (bwrap) {
      if (!existsSync('/usr/bin/bwrap'))
        bwrapError =
          '/usr/bin/bwrap is missing (apt-get install bubblewrap: apps/executor/scripts/install-runtimes.sh)';
      try {
        seccomp = compileSeccomp(join(this.runtimeDir, 'seccomp.bpf'));
      } catch (err) {
        seccompError = (err as Error).message;
      }
      writeGeneratedEtc(genEtc);
    }

    const cgroups = new Cgroups(`executor-${cfg.POD_NAME}`);
    this.cgroups = cgroups.support.version !== 'none' ? cgroups : undefined;
    const tmpfs = root ? this.probeTmpfs() : { enabled: false, error: 'the executor is not root' };

    const memoryBytes = cfg.MEMORY_LIMIT_MB * MiB;
    this.sandbox = new Sandbox({
      mode: cfg.SANDBOX,
      kernelsDir: findKernelsDir(),
      typescriptDir: findTypescriptDir(),
      maxProcesses: cfg.MAX_PROCESSES,
      maxFileBytes: cfg.MAX_FILE_BYTES,
      memoryBytes,
      distinctUids: this.distinctUids,
      seccompPath: seccomp?.path ?? join(this.runtimeDir, 'seccomp.bpf'),
      etc: bwrap ? etcEntries() : undefined,
      generatedEtcDir: genEtc,
      shmBytes: Math.min(SHM_BYTES, cfg.WORKSPACE_MAX_BYTES),
    });
    if (bwrap && !bwrapError && seccomp) bwrapError = this.probeBwrap();

    this.containment = assessContainment({
      mode: cfg.SANDBOX,
      executorUid: uid,
      uidBase: this.distinctUids ? this.uidBase : undefined,
      cgroups: cgroups.support,
      tmpfs: { ...tmpfs, maxBytes: cfg.WORKSPACE_MAX_BYTES, maxFiles: cfg.WORKSPACE_MAX_FILES },
      seccomp,
      seccompError,
      bwrapError,
      network: cfg.ALLOW_NETWORK,
      memoryBytes,
    });
    const limits: CgroupLimits = {
      pidsMax: cfg.MAX_PROCESSES,
      memoryBytes,
      cpuShares: cfg.CPU_SHARES,
      cpuCores: cfg.CPU_LIMIT,
    };
    this.slots = new SlotAllocator({
      root: cfg.WORKSPACE_ROOT,
      uidBase: this.distinctUids ? this.uidBase : undefined,
      limits,
      cgroups: this.cgroups,
      tmpfs: tmpfs.enabled
        ? { sizeBytes: cfg.WORKSPACE_MAX_BYTES, maxInodes: cfg.WORKSPACE_MAX_FILES }
        : undefined,
      refuse: this.containment.ready ? undefined : `sandbox not ready: ${this.containment.reason}`,
    });
    this.logBoot();
  }

  private logBoot(): void {
    const c = this.containment;
    this.logger.log(
      `sandbox ${c.mode}; ${c.cgroups.reason}; ` +
        (c.uids.mode === 'distinct'
          ? `sessions run as uid ${c.uids.base}+slot (RLIMIT_NPROC ${this.cfg.MAX_PROCESSES})`
          : `sessions share uid ${c.executorUid}`) +
        `; tmpfs per slot: ${c.tmpfs.enabled ? `${this.cfg.WORKSPACE_MAX_BYTES} bytes, ${this.cfg.WORKSPACE_MAX_FILES} inodes` : 'no'}` +
        `; seccomp: ${c.seccomp.enabled ? `${c.seccomp.rules} rules` : 'no'}`,
    );
    for (const w of c.warnings) this.logger.warn(w);
    if (!c.ready) this.logger.error(`refusing sessions: ${c.reason}`);
  }

  /** Root executor: can it mount the slots' tmpfs here (privileged container, CAP_SYS_ADMIN)? */
  private probeTmpfs(): { enabled: boolean; error?: string } {
    const dir = join(this.runtimeDir, 'tmpfs-probe');
    mkdirSync(dir, { recursive: true });
    try {
      mountTmpfs(dir, { sizeBytes: MiB, maxInodes: 64, uid: 0, gid: 0 });
      unmount(dir);
      return { enabled: true };
    } catch (err) {
      return { enabled: false, error: (err as Error).message };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** Runs `true` through the whole sandbox (wrapper, setpriv, prlimit, bwrap with seccomp): undefined when it works. */
  private probeBwrap(): string | undefined {
    const dir = join(this.runtimeDir, 'probe');
    const slot: Slot = {
      index: -1,
      uid: this.distinctUids ? this.uidBase : undefined,
      gid: this.distinctUids ? this.uidBase : undefined,
      dir,
      work: join(dir, 'work'),
      tmp: join(dir, 'tmp'),
      tmpfs: false,
    };
    for (const d of [slot.dir, slot.work, slot.tmp]) {
      mkdirSync(d, { recursive: true, mode: 0o700 });
      if (slot.uid !== undefined) chownSync(d, slot.uid, slot.uid);
    }
    const spec = this.sandbox.spec(slot, {
      argv: ['/bin/sh', '-c', 'test -w /home/user && test -w /tmp && test "$(id -u)" = 1000'],
      env: { PATH: '/usr/bin:/bin' },
      network: false,
      addressSpaceLimit: false,
    });
    const stdio: Array<'ignore' | 'pipe' | number> = ['ignore', 'pipe', 'pipe'];
    const fds: number[] = [];
    try {
      for (const f of spec.files ?? []) {
        while (stdio.length < f.fd) stdio.push('ignore');
        const fd = openSync(f.path, 'r');
        fds.push(fd);
        stdio[f.fd] = fd;
      }
      const r = spawnSync(spec.command, spec.args, { env: spec.env, cwd: spec.cwd, stdio, timeout: 20_000 });
      if (r.error) return r.error.message;
      if (r.status !== 0) {
        const err = `${r.stderr?.toString() ?? ''}${r.stdout?.toString() ?? ''}`.trim().slice(0, 500);
        return `sandbox probe exited with ${r.status ?? r.signal}${err ? `: ${err}` : ''}`;
      }
      return undefined;
    } finally {
      for (const fd of fds) closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** After the sessions service released its slots (onModuleDestroy): remove what is left, cgroup parents, mounts. */
  onApplicationShutdown(): void {
    try {
      this.slots.releaseAll();
    } finally {
      this.cgroups?.removeRoots();
      for (const m of mountsUnder(this.cfg.WORKSPACE_ROOT)) {
        try {
          unmount(m);
        } catch (err) {
          this.logger.warn((err as Error).message);
        }
      }
      rmSync(this.runtimeDir, { recursive: true, force: true });
    }
  }
}
