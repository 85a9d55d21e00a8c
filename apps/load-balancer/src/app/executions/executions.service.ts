import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  PodJobDefs,
  streamChannel,
  type ExecutionError,
  type ExecutionEvent,
  type JobRpcClient,
  type ResultItem,
} from '@executor/queues';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { RPC } from '../core/tokens';
import { ApiError } from '../http/api-error';
import { SessionCaller, type LiveSession } from '../sessions/session-caller.service';
import { SessionStore, type HistoryEntry } from '../state/session-store';

export const DEFAULT_EXECUTION_TIMEOUT_MS = 30_000;

/** What to run (the protocol-neutral form of `/v1 …/executions` and E2B's `/execute`). */
export interface RunParams {
  code: string;
  language?: string;
  /** Context (kernel) id; default: the session's default context, or `language`'s. */
  context?: string;
  timeoutMs?: number;
  env?: Record<string, string>;
}

/** An execution as the API returns it (and the `end` event of a streamed one). */
export interface ExecutionView {
  id: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  truncated: boolean;
  at: string;
  /** Rich results in order (display calls and figures, then the last expression with isMain). */
  results: ResultItem[];
  error?: ExecutionError;
  executionCount?: number;
  context?: string;
}

/**
 * Runs code in a session: the one execution path of every protocol. With `onEvent`, the
 * executor's events (stdout/stderr chunks as produced, results, the error) are delivered while it
 * runs (subscribed on the replica's RPC subscriber before the job is added, so they all arrive
 * before the job's reply). The history entry is stored before the result is returned.
 */
@Injectable()
export class ExecutionsService {
  constructor(
    private readonly caller: SessionCaller,
    private readonly store: SessionStore,
    @Inject(RPC) private readonly rpc: JobRpcClient,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
  ) {}

  /** 413 for code over MAX_CODE_BYTES (checked before anything is sent to a pod). */
  checkCode(code: string): void {
    if (code.length > this.config.MAX_CODE_BYTES / 3 && Buffer.byteLength(code) > this.config.MAX_CODE_BYTES)
      throw new ApiError('payload_too_large', `code: larger than ${this.config.MAX_CODE_BYTES} bytes`);
  }

  async run(
    loaded: LiveSession,
    params: RunParams,
    onEvent?: (event: ExecutionEvent) => void,
  ): Promise<ExecutionView> {
    this.checkCode(params.code);
    const timeoutMs = params.timeoutMs ?? DEFAULT_EXECUTION_TIMEOUT_MS;
    // randomUUID draws from a cached entropy pool (randomBytes per call costs a syscall).
    const executionId = `exe-${randomUUID()}`;
    const channel = onEvent ? streamChannel(this.config.QUEUE_PREFIX, executionId) : undefined;
    const unsubscribe =
      channel && onEvent ? await this.rpc.subscribe(channel, (e) => onEvent(e as ExecutionEvent)) : undefined;
    try {
      const { session, result } = await this.caller.callLoaded(
        loaded,
        PodJobDefs.execute,
        (s) => ({
          sessionId: s.id,
          tenant: s.tenant,
          executionId,
          code: params.code,
          timeoutMs,
          ...(params.language ? { language: params.language } : {}),
          ...(params.context ? { context: params.context } : {}),
          ...(params.env ? { env: params.env } : {}),
          ...(channel ? { stream: channel } : {}),
        }),
        timeoutMs + this.config.JOB_TIMEOUT_GRACE_MS,
      );
      const entry: HistoryEntry = {
        id: result.id,
        code: params.code,
        exitCode: result.exitCode,
        durationMs: result.durationMs,
        at: result.at,
        timedOut: result.timedOut,
      };
      // Stored before answering: an acknowledged execution survives the death of this replica.
      await this.store.appendHistory(
        session.id,
        entry,
        result.snapshotVersion !== undefined ? new Date().toISOString() : undefined,
      );
      return {
        id: result.id,
        exitCode: result.exitCode,
        stdout: result.stdout,
        stderr: result.stderr,
        durationMs: result.durationMs,
        timedOut: result.timedOut,
        truncated: result.truncated,
        at: result.at,
        results: (result.results ?? []) as ResultItem[],
        ...(result.error ? { error: result.error } : {}),
        ...(result.executionCount !== undefined ? { executionCount: result.executionCount } : {}),
        ...(result.context ? { context: result.context } : {}),
      };
    } finally {
      await unsubscribe?.();
    }
  }
}
