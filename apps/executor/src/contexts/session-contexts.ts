import { randomUUID } from 'node:crypto';
import {
  DEFAULT_CONTEXT_ID,
  JobError,
  SANDBOX_HOME,
  normalizeContextLanguage,
  type ContextInfo,
} from '@executor/queues';
import { KERNEL_LANGUAGES, kernelForLanguage, type KernelKind } from '@executor/templates';
import { sandboxPath } from '@executor/workspace-fs';
import { KernelRuntime, type Runtime, type RuntimeDeps } from '../runner/runtime';
import type { Slot } from '../sandbox/sandbox';
import type { SandboxFs } from '../fs/sandbox-fs';

/** One context: an independent kernel of the session (same sandbox, uid, cgroup and limits). */
export interface ContextEntry {
  readonly id: string;
  /** Normalized language (python, javascript, typescript, bash; the template's language for one-shot). */
  readonly language: string;
  readonly kind: KernelKind | null;
  /** Sandbox path of its working directory. */
  readonly cwd: string;
  readonly runtime: Runtime;
}

export interface SessionContextsOptions {
  slot: Slot;
  deps: RuntimeDeps;
  network: boolean;
  fs: SandboxFs;
  /** Contexts per session, the default one included. */
  maxContexts: number;
}

/**
 * The contexts of one session. `default` is the session's runtime (the template's main kernel, or
 * its one-shot runner); others are kernels of the template's other `kernels`, created explicitly
 * (`context.create`) or lazily as `default-<language>` when an execution asks for a language.
 * Every kernel runs in the session's slot, so they share its sandbox, uid, cgroup and limits (their
 * memory and processes add up against the session's). Calls run under the session's mutex.
 */
export class SessionContexts {
  private readonly entries = new Map<string, ContextEntry>();

  constructor(
    private readonly opts: SessionContextsOptions,
    defaultRuntime: Runtime,
  ) {
    const t = opts.deps.template;
    this.entries.set(DEFAULT_CONTEXT_ID, {
      id: DEFAULT_CONTEXT_ID,
      language: this.mainLanguage,
      kind: t.kernel,
      cwd: SANDBOX_HOME,
      runtime: defaultRuntime,
    });
  }

  /** The language of the default context. */
  get mainLanguage(): string {
    const t = this.opts.deps.template;
    return t.kernel ? KERNEL_LANGUAGES[t.kernel] : t.language;
  }

  get size(): number {
    return this.entries.size;
  }

  list(): ContextInfo[] {
    return [...this.entries.values()].map(info);
  }

  get(id: string): ContextEntry {
    const e = this.entries.get(id);
    if (!e) throw new JobError('not_found', `no context "${id}" in this session`);
    return e;
  }

  /** A new context running `language` (an alias is fine) in `cwd` (default /home/user). */
  async create(language: string, cwd?: string, id: string = randomUUID()): Promise<ContextInfo> {
    const t = this.opts.deps.template;
    const kind = kernelForLanguage(t, language);
    if (!kind) {
      throw new JobError(
        'invalid_argument',
        `template ${t.name} has no ${language} kernel` +
          (t.kernels.length
            ? ` (contexts can run: ${t.kernels.map((k) => KERNEL_LANGUAGES[k]).join(', ')})`
            : ' (it runs each snippet afresh: no contexts)'),
      );
    }
    if (this.entries.size >= this.opts.maxContexts) {
      throw new JobError(
        'rate_limited',
        `this session has ${this.entries.size} contexts, the limit is ${this.opts.maxContexts}; remove one first`,
      );
    }
    const dir = await this.directory(cwd ?? SANDBOX_HOME);
    const runtime = new KernelRuntime(this.opts.slot, this.opts.deps, this.opts.network, undefined, {
      kind,
      cwd: dir.inner,
    });
    try {
      await runtime.ready();
    } catch (err) {
      await runtime.close().catch(() => undefined);
      throw new JobError(
        'internal',
        `the ${KERNEL_LANGUAGES[kind]} kernel did not start: ${(err as Error).message}`,
      );
    }
    const entry: ContextEntry = { id, language: KERNEL_LANGUAGES[kind], kind, cwd: dir.sandbox, runtime };
    this.entries.set(id, entry);
    return info(entry);
  }

  /**
   * The context an execution runs in: `context` if given (its language must match `language` when
   * both are given), else the default context of `language` (created on first use), else `default`.
   * Undefined when `language` is not one of the template's kernels (the caller decides).
   */
  async forExecution(
    context: string | undefined,
    language: string | undefined,
  ): Promise<ContextEntry | undefined> {
    if (context !== undefined) {
      const e = this.get(context);
      if (language !== undefined) {
        const l = normalizeContextLanguage(language) ?? language.toLowerCase();
        if (l !== e.language)
          throw new JobError('invalid_argument', `context "${context}" runs ${e.language}, not ${language}`);
      }
      return e;
    }
    if (language === undefined) return this.get(DEFAULT_CONTEXT_ID);
    const t = this.opts.deps.template;
    const kind = kernelForLanguage(t, language);
    if (!kind) return undefined;
    if (kind === t.kernel) return this.get(DEFAULT_CONTEXT_ID);
    const id = `${DEFAULT_CONTEXT_ID}-${KERNEL_LANGUAGES[kind]}`;
    const existing = this.entries.get(id);
    if (existing) return existing;
    await this.create(language, SANDBOX_HOME, id);
    return this.get(id);
  }

  /** A fresh kernel in the context (variables gone; same id, language and cwd). */
  async restart(id: string): Promise<void> {
    const e = this.get(id);
    if (e.runtime instanceof KernelRuntime) await e.runtime.restartNow();
  }

  async remove(id: string): Promise<void> {
    if (id === DEFAULT_CONTEXT_ID)
      throw new JobError('invalid_argument', 'the default context cannot be removed (restart it instead)');
    const e = this.get(id);
    this.entries.delete(id);
    await e.runtime.close();
  }

  /** Closes every context but the default one (the session closes its own runtime). */
  async closeAll(): Promise<void> {
    const others = [...this.entries.values()].filter((e) => e.id !== DEFAULT_CONTEXT_ID);
    for (const e of others) this.entries.delete(e.id);
    await Promise.all(others.map((e) => e.runtime.close().catch(() => undefined)));
  }

  /** Checks that `cwd` is a directory of the sandbox; its sandbox path and the path inside. */
  private async directory(cwd: string): Promise<{ sandbox: string; inner: string }> {
    const fs = this.opts.fs;
    const p = fs.parse(cwd);
    const entry = await fs
      .area(p)
      .stat(p.path, { follow: true })
      .catch(() => undefined);
    if (!entry || entry.type !== 'dir')
      throw new JobError('invalid_argument', `cwd "${cwd}" is not a directory of the sandbox`);
    return { sandbox: sandboxPath(p), inner: fs.inner(p) };
  }
}

function info(e: ContextEntry): ContextInfo {
  return { id: e.id, language: e.language, cwd: e.cwd };
}
