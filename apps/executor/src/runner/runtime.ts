import { mkdirSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { resolveRunEnv, type KernelKind, type Template } from '@executor/templates';
import { KernelProcess, type ExecutionSink, type RunOutcome } from '../kernels/kernel-process';
import { OutputCollector } from '../kernels/output-collector';
import { closed, exitCodeOf, killTree, spawnTree } from '../kernels/process-tree';
import type { Sandbox, Slot, SpawnRequest, SpawnSpec } from '../sandbox/sandbox';

/** Exit code reported for an execution that hit its timeout. */
export const TIMEOUT_EXIT_CODE = 124;
/** After the main process exits, how long its leftover children may keep stdout/stderr open. */
const ORPHAN_GRACE_MS = 100;

/** Runtimes whose own virtual memory reservations do not break under RLIMIT_AS. */
const AS_LIMIT_OK = new Set(['python', 'python-data', 'bash', 'c', 'cpp', 'rust', 'ruby', 'r']);
/** Kernels that tolerate RLIMIT_AS (node's V8 reserves large ranges: it gets --max-old-space-size instead). */
const AS_LIMIT_KERNELS = new Set<KernelKind>(['python', 'bash']);
/** Real binaries (never the pyenv shim on the executor's PATH). */
const BINARIES: Record<string, string> = { python3: '/usr/bin/python3', node: '/usr/bin/node' };

export interface RuntimeDeps {
  template: Template;
  sandbox: Sandbox;
  maxOutputBytes: number;
  memoryMb: number;
  compileTimeoutMs: number;
  onKernelRestart: () => void;
}

export interface ExecuteOptions {
  /** Packages appeared since the last execution (install, restore): python drops its import caches. */
  invalidateImports?: boolean;
  /** Gets output and results as they are produced (streaming executions). */
  sink?: ExecutionSink;
}

/** Which kernel a KernelRuntime runs, and where (a context of a session). */
export interface KernelOptions {
  /** Default: the template's kernel. */
  kind?: KernelKind;
  /** Working directory inside the sandbox (default: the workspace). */
  cwd?: string;
}

export interface CommandOptions {
  timeoutMs: number;
  env?: Record<string, string>;
  /** Use `env` alone: none of the session's base or template environment (package installers). */
  cleanEnv?: boolean;
  network: boolean;
  roBinds?: string[];
  binds?: SpawnRequest['binds'];
  /** Working directory inside the sandbox (default: the workspace). */
  cwd?: string;
  /** RLIMIT_AS as for the template's snippets (default true; false for node-based helpers). */
  addressSpaceLimit?: boolean;
}

/** Executes snippets for one session. */
export interface Runtime {
  readonly slot: Slot;
  execute(
    code: string,
    timeoutMs: number,
    env: Record<string, string>,
    opts?: ExecuteOptions,
  ): Promise<RunOutcome>;
  /** Runs a helper command (package managers) in the session's sandbox. */
  command(argv: string[], opts: CommandOptions): Promise<RunOutcome>;
  close(): Promise<void>;
}

function binary(name: string): string {
  return BINARIES[name] ?? name;
}

/** Template-specific environment (e.g. MPLBACKEND, GOCACHE under the private tmp). */
export function templateEnv(template: Template, sandbox: Sandbox, slot: Slot): Record<string, string> {
  const env = resolveRunEnv(template, sandbox.tmp(slot));
  for (const name of template.run.writableDirEnv ?? []) {
    // The directories are created on the host side (same path inside the sandbox's /tmp).
    const hostDir = join(slot.tmp, name.toLowerCase());
    mkdirSync(hostDir, { recursive: true });
    if (slot.uid !== undefined) chownSync(hostDir, slot.uid, slot.uid);
  }
  return env;
}

/** The argv of a kernel (the template's own, or another kind for a context). */
export function kernelArgv(
  template: Template,
  sandbox: Sandbox,
  memoryMb: number,
  kind: KernelKind | null = template.kernel,
): string[] {
  const dir = sandbox.kernelsDir();
  switch (kind) {
    case 'python':
      return [binary('python3'), '-u', '-s', join(dir, 'python_kernel.py')];
    case 'bash':
      return [binary('python3'), '-u', '-s', join(dir, 'bash_kernel.py')];
    case 'node':
    case 'typescript':
      return [
        binary('node'),
        `--max-old-space-size=${Math.max(32, Math.floor(memoryMb * 0.75))}`,
        join(dir, 'node_kernel.js'),
        kind,
      ];
    default:
      throw new Error(`template ${template.name} has no kernel`);
  }
}

/** Common process runner for one-shot steps: output capped, timeout kills the tree. */
export async function runProcess(
  spec: SpawnSpec,
  slot: Slot,
  timeoutMs: number,
  maxOutputBytes: number,
  sink?: ExecutionSink,
): Promise<RunOutcome & { spawnError?: string }> {
  const out = new OutputCollector(maxOutputBytes);
  const err = new OutputCollector(maxOutputBytes);
  if (sink) {
    const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
    const listen = (name: 'stdout' | 'stderr') => (d: Buffer) => {
      const text = decoders[name].write(d);
      if (text) sink.output(name, text, Date.now());
    };
    out.begin(undefined, undefined, listen('stdout'));
    err.begin(undefined, undefined, listen('stderr'));
  }
  let child: ChildProcess;
  try {
    child = spawnTree(spec, ['ignore', 'pipe', 'pipe']);
  } catch (e) {
    return {
      exitCode: 127,
      stdout: '',
      stderr: `${(e as Error).message}\n`,
      timedOut: false,
      truncated: false,
      kernelDied: false,
      spawnError: (e as Error).message,
    };
  }
  (child.stdout as Readable).on('data', (d: Buffer) => out.push(d));
  (child.stderr as Readable).on('data', (d: Buffer) => err.push(d));
  let timedOut = false;
  let spawnError: string | undefined;
  child.on('error', (e) => (spawnError = e.message));
  const timer = setTimeout(() => {
    timedOut = true;
    killTree(child, slot);
  }, timeoutMs);
  // When the main process exits, children left holding the pipes get a short grace, then die.
  let orphanTimer: NodeJS.Timeout | undefined;
  child.once('exit', () => {
    orphanTimer = setTimeout(() => killTree(child, slot), ORPHAN_GRACE_MS);
  });
  const { code, signal } = await closed(child);
  clearTimeout(timer);
  if (orphanTimer) clearTimeout(orphanTimer);
  const stderr =
    err.text() +
    (spawnError ? `${spawnError}\n` : '') +
    (timedOut ? `TimeoutError: execution exceeded ${timeoutMs} ms\n` : '');
  return {
    exitCode: timedOut ? TIMEOUT_EXIT_CODE : exitCodeOf(code, signal),
    stdout: out.text(),
    stderr,
    timedOut,
    truncated: out.truncated || err.truncated,
    kernelDied: false,
    spawnError,
  };
}

abstract class BaseRuntime implements Runtime {
  constructor(
    readonly slot: Slot,
    protected readonly deps: RuntimeDeps,
    protected readonly network: boolean,
  ) {}

  abstract execute(
    code: string,
    timeoutMs: number,
    env: Record<string, string>,
    opts?: ExecuteOptions,
  ): Promise<RunOutcome>;
  abstract close(): Promise<void>;

  protected spec(
    argv: string[],
    env: Record<string, string>,
    opts: Partial<Omit<CommandOptions, 'timeoutMs' | 'env'>> & {
      /** A kernel of a multi-kernel template: RLIMIT_AS decided by its kind, not the template. */
      kernelAddressSpaceLimit?: boolean;
    } = {},
  ): SpawnSpec {
    const { sandbox, template } = this.deps;
    return sandbox.spec(this.slot, {
      argv,
      env: opts.cleanEnv
        ? env
        : { ...sandbox.baseEnv(this.slot), ...templateEnv(template, sandbox, this.slot), ...env },
      network: opts.network ?? this.network,
      addressSpaceLimit:
        opts.kernelAddressSpaceLimit ?? ((opts.addressSpaceLimit ?? true) && AS_LIMIT_OK.has(template.name)),
      cwd: opts.cwd,
      roBinds: opts.roBinds,
      binds: opts.binds,
    });
  }

  command(argv: string[], opts: CommandOptions): Promise<RunOutcome> {
    const { timeoutMs, env, ...rest } = opts;
    const spec = this.spec(argv, env ?? {}, rest);
    return runProcess(spec, this.slot, timeoutMs, this.deps.maxOutputBytes);
  }
}

/** A session with a stateful kernel; a dead kernel is restarted for the next execution. */
export class KernelRuntime extends BaseRuntime {
  private kernel: KernelProcess;
  private starting?: Promise<void>;
  readonly kind: KernelKind;

  constructor(
    slot: Slot,
    deps: RuntimeDeps,
    network: boolean,
    kernel?: KernelProcess,
    private readonly kernelOpts: KernelOptions = {},
  ) {
    super(slot, deps, network);
    const kind = kernelOpts.kind ?? deps.template.kernel;
    if (!kind) throw new Error(`template ${deps.template.name} has no kernel`);
    this.kind = kind;
    this.kernel = kernel ?? this.newKernel();
    if (!kernel) this.starting = this.kernel.start();
  }

  /** Resolves once the kernel is ready (rejects when it failed to start). */
  async ready(): Promise<void> {
    await this.starting;
  }

  /** Starts a kernel for a slot (used by the warm pool as well). */
  static async startKernel(slot: Slot, deps: RuntimeDeps, network: boolean): Promise<KernelProcess> {
    const rt = new KernelRuntime(slot, deps, network);
    await rt.starting;
    return rt.kernel;
  }

  get pid(): number | undefined {
    return this.kernel.pid;
  }

  private newKernel(): KernelProcess {
    const { template, sandbox, memoryMb, maxOutputBytes } = this.deps;
    const spec = this.spec(
      kernelArgv(template, sandbox, memoryMb, this.kind),
      {},
      {
        cwd: this.kernelOpts.cwd,
        kernelAddressSpaceLimit: template.kernels.length > 1 ? AS_LIMIT_KERNELS.has(this.kind) : undefined,
      },
    );
    return new KernelProcess(spec, this.slot, maxOutputBytes, () =>
      this.slot.cgroup?.oomKilled() ? `killed by the out-of-memory killer: memory limit ${memoryMb} MB` : '',
    );
  }

  /** Replaces the kernel by a fresh one (variables gone); resolves once it is ready. */
  async restartNow(): Promise<void> {
    await this.starting?.catch(() => undefined);
    await this.kernel.close();
    this.restart();
    await this.starting;
    this.starting = undefined;
  }

  private restart(): void {
    this.deps.onKernelRestart();
    this.slot.cgroup?.resetOom();
    this.kernel = this.newKernel();
    this.starting = this.kernel.start();
    this.starting.catch(() => undefined);
  }

  async execute(
    code: string,
    timeoutMs: number,
    env: Record<string, string>,
    opts: ExecuteOptions = {},
  ): Promise<RunOutcome> {
    if (!this.kernel.alive) this.restart();
    if (this.starting) {
      try {
        await this.starting;
      } catch (e) {
        this.starting = undefined;
        this.kernel.kill();
        return {
          exitCode: 1,
          stdout: '',
          stderr: `kernel failed to start: ${(e as Error).message}\n`,
          timedOut: false,
          truncated: false,
          kernelDied: true,
        };
      }
      this.starting = undefined;
    }
    const outcome = await this.kernel.run(
      code,
      timeoutMs,
      Object.keys(env).length ? env : undefined,
      opts.invalidateImports,
      opts.sink,
    );
    if (outcome.kernelDied) this.restart(); // be ready for the next execution
    return outcome;
  }

  async close(): Promise<void> {
    await this.starting?.catch(() => undefined);
    await this.kernel.close();
  }
}

/** Compile (if any) and run each snippet as fresh processes in the session's workspace. */
export class OneShotRuntime extends BaseRuntime {
  private counter = 0;

  async execute(
    code: string,
    timeoutMs: number,
    env: Record<string, string>,
    opts: ExecuteOptions = {},
  ): Promise<RunOutcome> {
    const { template, sandbox, maxOutputBytes, compileTimeoutMs, memoryMb } = this.deps;
    const steps = template.run;
    const name = `build-${++this.counter}`;
    const hostBuild = join(this.slot.tmp, name);
    const build = join(sandbox.tmp(this.slot), name);
    mkdirSync(hostBuild, { recursive: true });
    try {
      writeFileSync(join(hostBuild, steps.sourceFile), code);
      if (this.slot.uid !== undefined) {
        chownSync(hostBuild, this.slot.uid, this.slot.uid);
        chownSync(join(hostBuild, steps.sourceFile), this.slot.uid, this.slot.uid);
      }
      if (steps.compile) {
        const compiled = await runProcess(
          this.spec(
            steps.compile.map((a, i) => (i === 0 ? binary(a) : a)),
            env,
            { cwd: build },
          ),
          this.slot,
          compileTimeoutMs + timeoutMs,
          maxOutputBytes,
          opts.sink,
        );
        if (compiled.exitCode !== 0 || compiled.timedOut) return compiled;
      }
      const mapped = new Set([steps.sourceFile, ...(steps.artifacts ?? [])]);
      let argv = steps.run.map((a, i) => {
        if (i === 0) return a.startsWith('./') ? join(build, a.slice(2)) : binary(a);
        if (a === '.') return build;
        if (mapped.has(a)) return join(build, a);
        return a;
      });
      if (template.name === 'java')
        argv = [
          argv[0] as string,
          `-Xmx${Math.max(16, Math.floor(memoryMb * 0.6))}m`,
          '-Xss1m',
          ...argv.slice(1),
        ];
      return await runProcess(this.spec(argv, env), this.slot, timeoutMs, maxOutputBytes, opts.sink);
    } finally {
      rmSync(hostBuild, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    // Nothing long-lived; the slot's release kills any leftover process.
  }
}

export function createRuntime(
  slot: Slot,
  deps: RuntimeDeps,
  network: boolean,
  kernel?: KernelProcess,
): Runtime {
  return deps.template.kernel
    ? new KernelRuntime(slot, deps, network, kernel)
    : new OneShotRuntime(slot, deps, network);
}
