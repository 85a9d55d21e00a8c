import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import {
  PodJobDefs,
  procChannel,
  type JobRpcClient,
  type ProcessEnd,
  type ProcessEvent,
  type ProcessGetResult,
  type ProcessInfo,
  type ProcessSignal,
} from '@executor/queues';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { RPC } from '../core/tokens';
import { SessionCaller, type LiveSession } from '../sessions/session-caller.service';

/** A command to start (the protocol-neutral form of E2B's Start and `/v1 …/commands`). */
export interface StartParams {
  cmd: string;
  args: string[];
  envs: Record<string, string>;
  cwd?: string;
  /** Keep stdin open for `input` (else /dev/null). */
  stdin: boolean;
  tag?: string;
  /** Kill after this long (0 = never). */
  timeoutMs?: number;
}

/** Selects a process: by pid or by tag. */
export type ProcessSelector = { pid: number } | { tag: string };

/** A subscription to a process's events; `ended` settles with its end. */
export interface ProcessHandle {
  pid: number;
  procId: string;
  /** Resolves with the end event (never rejects; `detach()` leaves it pending). */
  ended: Promise<ProcessEnd>;
  /** Stops receiving events (the process keeps running). */
  detach(): Promise<void>;
}

/**
 * Processes (commands) in a session's sandbox: started and steered through pod jobs, their output
 * delivered from `procChannel` as produced. Subscribed before the start job, so nothing is missed.
 */
@Injectable()
export class ProcessesService {
  constructor(
    private readonly caller: SessionCaller,
    @Inject(RPC) private readonly rpc: JobRpcClient,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
  ) {}

  /** Starts a process; `onEvent` gets its output chunks (base64) and end, in order. */
  async start(
    loaded: LiveSession,
    params: StartParams,
    onEvent: (event: ProcessEvent) => void,
  ): Promise<ProcessHandle> {
    const procId = `proc-${randomUUID()}`;
    const sub = await this.subscribe(loaded.session.id, procId, onEvent);
    try {
      const { result } = await this.caller.callLoaded(
        loaded,
        PodJobDefs.processStart,
        (s) => ({
          sessionId: s.id,
          tenant: s.tenant,
          procId,
          cmd: params.cmd,
          args: params.args,
          envs: params.envs,
          stdin: params.stdin,
          ...(params.cwd ? { cwd: params.cwd } : {}),
          ...(params.tag ? { tag: params.tag } : {}),
          ...(params.timeoutMs ? { timeoutMs: params.timeoutMs } : {}),
        }),
        this.config.POD_CALL_TIMEOUT_MS,
      );
      return { pid: result.pid, procId, ended: sub.ended, detach: sub.detach };
    } catch (err) {
      await sub.detach();
      throw err;
    }
  }

  /**
   * Re-attaches to a process (running, or ended within the retention window): subscribes to its
   * events from now on; `ended` settles at once when it already ended.
   */
  async attach(
    loaded: LiveSession,
    selector: ProcessSelector,
    onEvent: (event: ProcessEvent) => void,
  ): Promise<ProcessHandle & { info: ProcessGetResult }> {
    const first = await this.get(loaded, selector);
    const sub = await this.subscribe(loaded.session.id, first.procId, onEvent);
    try {
      // It may have ended between the lookup and the subscription: look again.
      const info = first.ended ? first : await this.get(loaded, { pid: first.pid });
      if (info.ended) sub.end(info.ended);
      return { pid: info.pid, procId: info.procId, ended: sub.ended, detach: sub.detach, info };
    } catch (err) {
      await sub.detach();
      throw err;
    }
  }

  async list(loaded: LiveSession): Promise<ProcessInfo[]> {
    const { result } = await this.caller.callLoaded(
      loaded,
      PodJobDefs.processList,
      (s) => ({ sessionId: s.id, tenant: s.tenant }),
      this.config.POD_CALL_TIMEOUT_MS,
    );
    return result.items;
  }

  async get(loaded: LiveSession, selector: ProcessSelector): Promise<ProcessGetResult> {
    const { result } = await this.caller.callLoaded(
      loaded,
      PodJobDefs.processGet,
      (s) => ({ sessionId: s.id, tenant: s.tenant, ...selector }),
      this.config.POD_CALL_TIMEOUT_MS,
    );
    return result;
  }

  async input(loaded: LiveSession, selector: ProcessSelector, data: Buffer): Promise<void> {
    await this.caller.callLoaded(
      loaded,
      PodJobDefs.processInput,
      (s) => ({ sessionId: s.id, tenant: s.tenant, ...selector, data: data.toString('base64') }),
      this.config.POD_CALL_TIMEOUT_MS,
    );
  }

  async closeStdin(loaded: LiveSession, selector: ProcessSelector): Promise<void> {
    await this.caller.callLoaded(
      loaded,
      PodJobDefs.processCloseStdin,
      (s) => ({ sessionId: s.id, tenant: s.tenant, ...selector }),
      this.config.POD_CALL_TIMEOUT_MS,
    );
  }

  async signal(loaded: LiveSession, selector: ProcessSelector, signal: ProcessSignal): Promise<void> {
    await this.caller.callLoaded(
      loaded,
      PodJobDefs.processSignal,
      (s) => ({ sessionId: s.id, tenant: s.tenant, ...selector, signal }),
      this.config.POD_CALL_TIMEOUT_MS,
    );
  }

  private async subscribe(
    sessionId: string,
    procId: string,
    onEvent: (event: ProcessEvent) => void,
  ): Promise<{ ended: Promise<ProcessEnd>; end: (e: ProcessEnd) => void; detach: () => Promise<void> }> {
    let settle: (e: ProcessEnd) => void = () => undefined;
    let done = false;
    const ended = new Promise<ProcessEnd>((resolve) => (settle = resolve));
    const end = (e: ProcessEnd): void => {
      if (done) return;
      done = true;
      settle(e);
    };
    const unsubscribe = await this.rpc.subscribe(
      procChannel(this.config.QUEUE_PREFIX, sessionId, procId),
      (m) => {
        if (done) return;
        const e = m as ProcessEvent;
        onEvent(e);
        if (e.t === 'end')
          end({
            exitCode: e.exitCode,
            exited: e.exited,
            status: e.status,
            ...(e.error ? { error: e.error } : {}),
          });
      },
    );
    return {
      ended,
      end: (e) => {
        if (!done) onEvent({ t: 'end', ...e });
        end(e);
      },
      detach: async () => {
        done = true;
        await unsubscribe();
      },
    };
  }
}
