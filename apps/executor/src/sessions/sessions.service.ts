import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import type Redis from 'ioredis';
import {
  JobCallError,
  JobError,
  PersistenceJobDefs,
  QueueNames,
  isStreamChannel,
  procChannel,
  publishEvent,
  putTransfer,
  takeTransfer,
  watchChannel,
  type ContextInfo,
  type ExecutionEvent,
  type ExecutePayload,
  type ExecuteResult,
  type JobRpcClient,
  type OpenSessionPayload,
  type OpenSessionResult,
  type PersistResult,
  type SnapshotTrigger,
} from '@executor/queues';
import {
  SESSION_STATE_SCHEMA_VERSION,
  captureWorkspace,
  decodeState,
  diffWorkspace,
  encodeState,
  restoreWorkspace,
  stripContent,
  type CaptureOptions,
  type SessionState,
} from '@executor/session-state';
import { KERNEL_LANGUAGES, getTemplate, type Template } from '@executor/templates';
import { EXECUTOR_CONFIG, type ExecutorConfig } from '../config/executor.config';
import { ExecutionOutcomes, ExecutorMetrics, type ExecutionOutcome } from '../metrics/metrics';
import { SessionContexts } from '../contexts/session-contexts';
import { SandboxFs } from '../fs/sandbox-fs';
import { WatchManager } from '../fs/watches';
import type { ExecutionSink } from '../kernels/kernel-process';
import { ProcessManager } from '../processes/process-manager';
import { ReadinessService } from '../readiness/readiness.service';
import { createRuntime, templateEnv, type RuntimeDeps } from '../runner/runtime';
import { slotOwner, workspaceAliases } from '../files/session-fs';
import { SandboxService } from '../sandbox/sandbox.service';
import { PERSISTENCE_RPC, REDIS } from '../tokens';
import { newMutex, type Session } from './session';
import { WarmPoolService } from './warm-pool.service';

/** Code kept per history record (the full code still ran). */
const HISTORY_CODE_BYTES = 64 * 1024;

/**
 * The sessions of this pod: open/restore, execute (one at a time per session, FIFO), snapshot,
 * close. Every other service reaches a session through {@link withSession}.
 */
@Injectable()
export class SessionsService implements OnModuleDestroy {
  private readonly logger = new Logger(SessionsService.name);
  private readonly sessions = new Map<string, Session>();
  private readonly opening = new Map<string, Promise<OpenSessionResult>>();
  private readonly template: Template;
  readonly deps: RuntimeDeps;
  private runningCount = 0;
  private draining = false;
  private periodic?: NodeJS.Timeout;

  constructor(
    @Inject(EXECUTOR_CONFIG) private readonly cfg: ExecutorConfig,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(PERSISTENCE_RPC) private readonly persistence: JobRpcClient,
    private readonly sandbox: SandboxService,
    private readonly warm: WarmPoolService,
    private readonly metrics: ExecutorMetrics,
    private readonly readiness: ReadinessService,
  ) {
    this.template = getTemplate(cfg.TEMPLATE);
    this.deps = {
      template: this.template,
      sandbox: sandbox.sandbox,
      maxOutputBytes: cfg.MAX_OUTPUT_BYTES,
      memoryMb: cfg.MEMORY_LIMIT_MB,
      compileTimeoutMs: cfg.COMPILE_TIMEOUT_MS,
      onKernelRestart: () => this.metrics.kernelRestarts.inc({ template: this.template.name }),
    };
    this.warm.start(this.deps);
    this.periodic = setInterval(() => void this.periodicSnapshots(), cfg.SNAPSHOT_INTERVAL_SECONDS * 1000);
    this.periodic.unref();
  }

  get count(): number {
    return this.sessions.size;
  }

  get running(): number {
    return this.runningCount;
  }

  get accepting(): boolean {
    return !this.draining;
  }

  /** Stop accepting new sessions (SIGTERM). */
  stopAccepting(): void {
    this.draining = true;
  }

  ids(): string[] {
    return [...this.sessions.keys()];
  }

  /** The session (or `session_not_on_pod`), with its FIFO mutex held while `fn` runs. */
  async withSession<T>(sessionId: string, fn: (s: Session) => Promise<T>): Promise<T> {
    const s = this.sessions.get(sessionId);
    if (!s)
      throw new JobError('session_not_on_pod', `session ${sessionId} is not on pod ${this.cfg.POD_NAME}`);
    return s.mutex.run(async () => {
      if (this.sessions.get(sessionId) !== s) {
        throw new JobError(
          'session_not_on_pod',
          `session ${sessionId} was closed on pod ${this.cfg.POD_NAME}`,
        );
      }
      this.touch(s);
      return fn(s);
    });
  }

  /**
   * The session without taking its mutex (or `session_not_on_pod`): for jobs that run beside
   * executions (commands, reads, watches). Moves its idle expiry like any use.
   */
  lookup(sessionId: string): Session {
    const s = this.sessions.get(sessionId);
    if (!s)
      throw new JobError('session_not_on_pod', `session ${sessionId} is not on pod ${this.cfg.POD_NAME}`);
    this.touch(s);
    return s;
  }

  // ------------------------------------------------------------------ open
  async open(p: OpenSessionPayload): Promise<OpenSessionResult> {
    if (p.template !== this.template.name) {
      throw new JobError(
        'invalid_argument',
        `pod ${this.cfg.POD_NAME} serves template ${this.template.name}, not ${p.template}`,
      );
    }
    const existing = this.sessions.get(p.sessionId);
    if (existing) {
      if (existing.tenant !== p.tenant)
        throw new JobError('conflict', `session ${p.sessionId} belongs to another tenant`);
      return { pod: this.cfg.POD_NAME, restored: false };
    }
    const inFlight = this.opening.get(p.sessionId);
    if (inFlight) return inFlight;
    if (this.draining) throw new JobError('unavailable', `pod ${this.cfg.POD_NAME} is shutting down`);
    this.readiness.assertReady();
    if (this.sessions.size + this.opening.size >= this.cfg.MAX_SESSIONS) {
      throw new JobError(
        'unavailable',
        `pod ${this.cfg.POD_NAME} is full (${this.cfg.MAX_SESSIONS} sessions)`,
      );
    }
    const promise = this.doOpen(p).finally(() => this.opening.delete(p.sessionId));
    this.opening.set(p.sessionId, promise);
    return promise;
  }

  private async doOpen(p: OpenSessionPayload): Promise<OpenSessionResult> {
    const network = p.network ?? this.cfg.ALLOW_NETWORK;
    const warm = network === this.cfg.ALLOW_NETWORK ? this.warm.take() : undefined;
    const slot = warm?.slot ?? this.sandbox.slots.allocate();
    const now = new Date();
    const runtime = createRuntime(slot, this.deps, network, warm?.kernel);
    const fs = new SandboxFs(this.sandbox.sandbox, slot, this.cfg.MAX_FILE_BYTES);
    const prefix = this.cfg.QUEUE_PREFIX;
    let sessionEnv: () => Record<string, string> = () => ({});
    const session: Session = {
      id: p.sessionId,
      tenant: p.tenant,
      template: this.template,
      pool: p.pool,
      persist: p.persist,
      ttlSeconds: p.ttlSeconds,
      env: { ...p.env },
      metadata: { ...p.metadata },
      network,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + p.ttlSeconds * 1000).toISOString(),
      slot,
      runtime,
      fs,
      contexts: new SessionContexts(
        { slot, deps: this.deps, network, fs, maxContexts: this.cfg.MAX_CONTEXTS },
        runtime,
      ),
      processes: new ProcessManager({
        sandbox: this.sandbox.sandbox,
        slot,
        fs,
        network,
        env: () => sessionEnv(),
        maxRunning: this.cfg.MAX_COMMANDS,
        maxOutputBytes: this.cfg.MAX_OUTPUT_BYTES,
        publish: (procId, e) => void publishEvent(this.redis, procChannel(prefix, p.sessionId, procId), e),
      }),
      watches: new WatchManager({
        fs,
        maxWatches: this.cfg.MAX_WATCHES,
        publish: (watchId, e) => void publishEvent(this.redis, watchChannel(prefix, p.sessionId, watchId), e),
      }),
      history: [],
      packages: [],
      stateDirty: false,
      invalidateImports: false,
      mutex: newMutex(),
    };
    sessionEnv = () => ({
      ...this.sandbox.sandbox.baseEnv(slot),
      ...templateEnv(this.template, this.sandbox.sandbox, slot),
      ...session.env,
    });
    let restoredVersion: number | undefined;
    try {
      if (p.restore) restoredVersion = await this.restoreInto(session, p);
    } catch (err) {
      await session.runtime.close().catch(() => undefined);
      this.sandbox.slots.release(slot);
      throw err;
    }
    this.sessions.set(session.id, session);
    this.metrics.sessions.set(this.sessions.size);
    return restoredVersion !== undefined
      ? { pod: this.cfg.POD_NAME, restored: true, restoredVersion }
      : { pod: this.cfg.POD_NAME, restored: false };
  }

  private async restoreInto(s: Session, p: OpenSessionPayload): Promise<number | undefined> {
    const res = await this.callPersistence(() =>
      this.persistence.call(
        QueueNames.restore,
        PersistenceJobDefs.restore,
        { sessionId: s.id },
        { timeoutMs: this.cfg.PERSISTENCE_TIMEOUT_MS },
      ),
    );
    if (!res.found || !res.state || res.version === undefined) return undefined;
    const state = decodeState(await takeTransfer(this.redis, res.state));
    if (state.sessionId !== s.id)
      throw new JobError('internal', `restored state belongs to ${state.sessionId}, not ${s.id}`);
    // No-follow writes, everything owned by the session's uid as it is written (libs/workspace-fs).
    await restoreWorkspace(s.slot.work, state.files, { clean: true, owner: slotOwner(s.slot) });
    s.env = { ...state.env, ...p.env };
    s.metadata = { ...state.metadata, ...p.metadata };
    s.history = state.history;
    s.packages = state.packages;
    s.createdAt = state.createdAt;
    s.invalidateImports = true;
    s.lastSnapshot = {
      version: res.version,
      files: stripContent(state.files),
      at: new Date().toISOString(),
      bytes: res.state.size,
    };
    return res.version;
  }

  // ------------------------------------------------------------------ execute
  async execute(p: ExecutePayload): Promise<ExecuteResult> {
    const codeBytes = Buffer.byteLength(p.code);
    if (codeBytes > this.cfg.MAX_CODE_BYTES) {
      throw new JobError(
        'payload_too_large',
        `code is ${codeBytes} bytes; the limit is ${this.cfg.MAX_CODE_BYTES}`,
      );
    }
    if (p.stream !== undefined && !isStreamChannel(this.cfg.QUEUE_PREFIX, p.stream)) {
      throw new JobError('invalid_argument', `stream "${p.stream}" is not a stream channel of this platform`);
    }
    return this.withSession(p.sessionId, async (s) => {
      const context = await s.contexts.forExecution(p.context, p.language);
      if (!context && p.language && !this.languageMatches(p.language)) {
        throw new JobError(
          'invalid_argument',
          `this session runs ${this.template.language} (template ${this.template.name}), not ${p.language}` +
            (this.template.kernels.length > 1
              ? ` (its kernels: ${this.template.kernels.map((k) => KERNEL_LANGUAGES[k]).join(', ')})`
              : ''),
        );
      }
      const ctx = context ?? s.contexts.get('default');
      const at = new Date();
      const t0 = performance.now();
      this.runningCount++;
      this.metrics.running.set(this.runningCount);
      const channel = p.stream;
      const emit = (e: ExecutionEvent): void => {
        if (channel) void publishEvent(this.redis, channel, e);
      };
      const sink: ExecutionSink | undefined = channel
        ? {
            output: (stream, text, ts) => emit({ t: stream, text, ts }),
            result: (result) => emit({ t: 'result', result }),
          }
        : undefined;
      let outcome;
      try {
        const invalidate = s.invalidateImports;
        s.invalidateImports = false;
        outcome = await ctx.runtime.execute(
          p.code,
          p.timeoutMs,
          { ...s.env, ...(p.env ?? {}) },
          { invalidateImports: invalidate, sink },
        );
      } finally {
        this.runningCount--;
        this.metrics.running.set(this.runningCount);
      }
      if (outcome.error) emit({ t: 'error', error: outcome.error });
      const durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
      const label: ExecutionOutcome = outcome.timedOut
        ? ExecutionOutcomes.timeout
        : outcome.kernelDied
          ? ExecutionOutcomes.killed
          : outcome.exitCode === 0
            ? ExecutionOutcomes.ok
            : ExecutionOutcomes.error;
      this.metrics.executions.inc({ template: this.template.name, outcome: label });
      this.metrics.duration.observe({ template: this.template.name }, durationMs / 1000);
      s.history.push({
        id: p.executionId,
        code: truncateCode(p.code),
        exitCode: outcome.exitCode,
        durationMs,
        at: at.toISOString(),
      });
      if (s.history.length > this.cfg.HISTORY_LIMIT)
        s.history.splice(0, s.history.length - this.cfg.HISTORY_LIMIT);
      s.stateDirty = true;
      const result: ExecuteResult = {
        id: p.executionId,
        exitCode: outcome.exitCode,
        stdout: outcome.stdout,
        stderr: outcome.stderr,
        durationMs,
        timedOut: outcome.timedOut,
        truncated: outcome.truncated,
        at: at.toISOString(),
        results: outcome.results ?? [],
        context: ctx.id,
        ...(outcome.error ? { error: outcome.error } : {}),
        ...(outcome.executionCount !== undefined ? { executionCount: outcome.executionCount } : {}),
      };
      if (s.persist && this.cfg.SNAPSHOT_AFTER_EXECUTION) {
        // Committed before the result is returned: a completed execution's files survive a crash.
        const snap = await this.snapshot(s, 'execution', { onlyIfFilesChanged: true });
        if (snap) result.snapshotVersion = snap.version;
      }
      return result;
    });
  }

  // ------------------------------------------------------------------ contexts
  createContext(sessionId: string, language: string, cwd?: string): Promise<ContextInfo> {
    return this.withSession(sessionId, (s) => s.contexts.create(language, cwd));
  }

  listContexts(sessionId: string): Promise<{ items: ContextInfo[] }> {
    return this.withSession(sessionId, async (s) => ({ items: s.contexts.list() }));
  }

  restartContext(sessionId: string, context: string): Promise<Record<string, never>> {
    return this.withSession(sessionId, async (s) => {
      await s.contexts.restart(context);
      return {};
    });
  }

  removeContext(sessionId: string, context: string): Promise<Record<string, never>> {
    return this.withSession(sessionId, async (s) => {
      await s.contexts.remove(context);
      return {};
    });
  }

  private languageMatches(language: string): boolean {
    const l = language.toLowerCase();
    const t = this.template;
    return (
      l === t.language ||
      l === t.name ||
      (t.language === 'javascript' && (l === 'js' || l === 'node')) ||
      (t.name === 'typescript' && l === 'ts') ||
      (t.language === 'python' && l === 'python3')
    );
  }

  // ------------------------------------------------------------------ snapshots
  /** Explicit persist: always stores a version. */
  async persist(sessionId: string): Promise<PersistResult> {
    return this.withSession(sessionId, async (s) => {
      const snap = await this.snapshot(s, 'explicit', { onlyIfFilesChanged: false });
      if (!snap) throw new JobError('internal', 'snapshot was not stored');
      return { version: snap.version, bytes: snap.bytes, at: snap.at };
    });
  }

  /**
   * Stores a snapshot of the session: a delta against the last stored version (unchanged files
   * referenced by hash), or a full state for the first one. With onlyIfFilesChanged it is skipped
   * when no file changed. Must run under the session's mutex.
   */
  async snapshot(
    s: Session,
    trigger: SnapshotTrigger,
    opts: { onlyIfFilesChanged: boolean; orStateChanged?: boolean },
  ): Promise<{ version: number; bytes: number; at: string } | undefined> {
    const t0 = performance.now();
    const prev = s.lastSnapshot;
    const diff = await diffWorkspace(prev?.files ?? [], s.slot.work, this.captureOptions(s));
    const filesChanged = diff.changedFiles > 0 || diff.removed.length > 0 || (!prev && diff.files.length > 0);
    if (opts.onlyIfFilesChanged && !filesChanged && !(opts.orStateChanged && s.stateDirty)) return undefined;
    const state: SessionState = {
      schemaVersion: SESSION_STATE_SCHEMA_VERSION,
      sessionId: s.id,
      tenant: s.tenant,
      poolName: s.pool,
      podName: this.cfg.POD_NAME,
      template: this.template.name,
      createdAt: s.createdAt,
      expiresAt: s.expiresAt,
      ttlSeconds: s.ttlSeconds,
      persist: s.persist,
      files: diff.files,
      env: s.env,
      history: s.history,
      packages: s.packages,
      metadata: s.metadata,
      baseVersion: prev?.version ?? null,
    };
    let res;
    try {
      res = await this.storeSnapshot(s, state, trigger);
    } catch (err) {
      this.metrics.snapshotFailures.inc({ trigger });
      throw err;
    }
    s.lastSnapshot = { version: res.version, files: stripContent(diff.files), at: res.at, bytes: res.bytes };
    s.stateDirty = false;
    this.metrics.snapshotDuration.observe({ trigger }, (performance.now() - t0) / 1000);
    return { version: res.version, bytes: res.bytes, at: res.at };
  }

  /**
   * How snapshots read the workspace: never following links (absolute links into the workspace,
   * as session code or the host names it, are kept relative), files over MAX_FILE_BYTES left out
   * (session code cannot write them: RLIMIT_FSIZE; a sparse or foreign one must not be read),
   * and whatever changes under the capture handled as a race, not an error (libs/session-state).
   */
  private captureOptions(s: Session): CaptureOptions {
    return {
      linkAliases: workspaceAliases(this.sandbox.sandbox, s.slot),
      maxFileBytes: this.cfg.MAX_FILE_BYTES,
      onSkip: (path, reason) => this.logger.debug(`snapshot of ${s.id}: "${path}" left out: ${reason}`),
    };
  }

  private async storeSnapshot(
    s: Session,
    state: SessionState,
    trigger: SnapshotTrigger,
  ): Promise<{ version: number; bytes: number; at: string }> {
    const send = async (st: SessionState): Promise<{ version: number; bytes: number; at: string }> => {
      const ref = await putTransfer(this.redis, encodeState(st), { prefix: this.cfg.QUEUE_PREFIX });
      return this.callPersistence(() =>
        this.persistence.call(
          QueueNames.snapshot,
          PersistenceJobDefs.snapshot,
          {
            sessionId: s.id,
            tenant: s.tenant,
            pool: s.pool,
            pod: this.cfg.POD_NAME,
            template: this.template.name,
            trigger,
            ttlSeconds: s.ttlSeconds,
            expiresAt: s.expiresAt,
            baseVersion: st.baseVersion ?? null,
            state: ref,
          },
          { timeoutMs: this.cfg.PERSISTENCE_TIMEOUT_MS },
        ),
      );
    };
    try {
      return await send(state);
    } catch (err) {
      // The base version is not what the store holds (another pod wrote, or it expired): send everything.
      if (
        state.baseVersion != null &&
        err instanceof JobError &&
        ['conflict', 'not_found', 'invalid_argument'].includes(err.code)
      ) {
        this.logger.warn(`delta snapshot of ${s.id} refused (${err.message}); sending a full state`);
        return send({
          ...state,
          files: await captureWorkspace(s.slot.work, this.captureOptions(s)),
          baseVersion: null,
        });
      }
      throw err;
    }
  }

  /** Calls the persistence service, mapping its failures to job errors. */
  private async callPersistence<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof JobCallError) {
        throw new JobError(
          err.code === 'timeout' ? 'unavailable' : err.code === 'session_not_on_pod' ? 'internal' : err.code,
          `persistence: ${err.message}`,
        );
      }
      throw err;
    }
  }

  private async periodicSnapshots(): Promise<void> {
    for (const s of this.sessions.values()) {
      if (!s.persist || s.mutex.pending > 0) continue; // busy sessions snapshot after their execution
      try {
        await s.mutex.run(() =>
          this.snapshot(s, 'periodic', { onlyIfFilesChanged: true, orStateChanged: true }),
        );
      } catch (err) {
        this.logger.warn(`periodic snapshot of ${s.id} failed: ${(err as Error).message}`);
      }
    }
  }

  /** Snapshots every persistent session (SIGTERM); returns how many were stored. */
  async snapshotAll(trigger: SnapshotTrigger): Promise<{ stored: number; failed: number }> {
    let stored = 0;
    let failed = 0;
    await Promise.all(
      [...this.sessions.values()]
        .filter((s) => s.persist)
        .map((s) =>
          s.mutex
            .run(() => this.snapshot(s, trigger, { onlyIfFilesChanged: false }))
            .then(() => stored++)
            .catch((err: Error) => {
              failed++;
              this.logger.error(`${trigger} snapshot of ${s.id} failed: ${err.message}`);
            }),
        ),
    );
    return { stored, failed };
  }

  // ------------------------------------------------------------------ close
  async close(sessionId: string, deleteState: boolean): Promise<boolean> {
    const s = this.sessions.get(sessionId);
    if (deleteState) {
      await this.persistence.send(QueueNames.persistenceAdmin, PersistenceJobDefs.delete, { sessionId });
    }
    if (!s) return false;
    return s.mutex.run(async () => {
      if (this.sessions.get(sessionId) !== s) return false;
      this.sessions.delete(sessionId);
      this.metrics.sessions.set(this.sessions.size);
      await this.dispose(s);
      return true;
    });
  }

  private async dispose(s: Session): Promise<void> {
    await s.watches.closeAll('the session was closed').catch(() => undefined);
    await s.processes.killAll().catch(() => undefined);
    await s.contexts.closeAll();
    await s.runtime
      .close()
      .catch((err: Error) => this.logger.warn(`closing the runtime of ${s.id}: ${err.message}`));
    this.sandbox.slots.release(s.slot);
  }

  /** Closes every session's kernel and workspace (after the shutdown snapshots). */
  async closeAll(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    this.metrics.sessions.set(0);
    await Promise.all(all.map((s) => this.dispose(s)));
    await this.warm.stop();
  }

  async onModuleDestroy(): Promise<void> {
    if (this.periodic) clearInterval(this.periodic);
    await this.closeAll();
  }

  private touch(s: Session): void {
    s.expiresAt = new Date(Date.now() + s.ttlSeconds * 1000).toISOString();
  }
}

function truncateCode(code: string): string {
  return code.length > HISTORY_CODE_BYTES ? code.slice(0, HISTORY_CODE_BYTES) : code;
}
