import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { EXECUTOR_CONFIG, type ExecutorConfig } from '../config/executor.config';
import { Cgroups } from './cgroups';
import { Sandbox } from './sandbox';
import { SlotAllocator } from './slots';

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

/** The sandbox of this pod: cgroups, slots (dirs + uids) and the argv builder. */
@Injectable()
export class SandboxService implements OnApplicationShutdown {
  private readonly logger = new Logger(SandboxService.name);
  readonly sandbox: Sandbox;
  readonly slots: SlotAllocator;
  readonly cgroups?: Cgroups;
  readonly distinctUids: boolean;

  constructor(@Inject(EXECUTOR_CONFIG) cfg: ExecutorConfig) {
    const root = process.getuid?.() === 0;
    this.distinctUids = root && cfg.SANDBOX_UID_BASE > 0;
    const memoryBytes = cfg.MEMORY_LIMIT_MB * 1024 * 1024;
    const cgroups = root ? new Cgroups(`executor-${cfg.POD_NAME}`) : undefined;
    this.cgroups = cgroups && cgroups.support.version !== 'none' ? cgroups : undefined;
    if (cfg.SANDBOX === 'bwrap' && !existsSync('/usr/bin/bwrap')) {
      throw new Error(
        'SANDBOX=bwrap but /usr/bin/bwrap is missing: apt-get install bubblewrap (or SANDBOX=none where the pod is the boundary)',
      );
    }
    this.sandbox = new Sandbox({
      mode: cfg.SANDBOX,
      kernelsDir: findKernelsDir(),
      typescriptDir: findTypescriptDir(),
      maxProcesses: cfg.MAX_PROCESSES,
      maxFileBytes: cfg.MAX_FILE_BYTES,
      memoryBytes,
      distinctUids: this.distinctUids,
    });
    this.slots = new SlotAllocator({
      root: cfg.WORKSPACE_ROOT,
      uidBase: this.distinctUids ? cfg.SANDBOX_UID_BASE : undefined,
      pidsMax: cfg.MAX_PROCESSES,
      memoryBytes,
      cgroups: this.cgroups,
    });
    this.logger.log(
      `sandbox ${cfg.SANDBOX}; ${cgroups?.support.reason ?? 'not root: no cgroups'}; ` +
        `${this.distinctUids ? `sessions run as uid ${cfg.SANDBOX_UID_BASE}+slot (RLIMIT_NPROC ${cfg.MAX_PROCESSES})` : 'sessions share the executor uid'}`,
    );
  }

  /** After the sessions service released every slot (onModuleDestroy): remove this pod's cgroup parents. */
  onApplicationShutdown(): void {
    this.cgroups?.removeRoots();
  }
}
