import { Inject, Injectable } from '@nestjs/common';
import { PodJobDefs, type ContextInfo } from '@executor/queues';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { SessionCaller, type LiveSession } from '../sessions/session-caller.service';

/** Contexts: independent kernels of one session (same sandbox, same limits). */
@Injectable()
export class ContextsService {
  constructor(
    private readonly caller: SessionCaller,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
  ) {}

  async create(loaded: LiveSession, language: string, cwd?: string): Promise<ContextInfo> {
    const { result } = await this.caller.callLoaded(
      loaded,
      PodJobDefs.contextCreate,
      (s) => ({ sessionId: s.id, tenant: s.tenant, language, ...(cwd ? { cwd } : {}) }),
      this.config.POD_CALL_TIMEOUT_MS,
    );
    return result;
  }

  async list(loaded: LiveSession): Promise<ContextInfo[]> {
    const { result } = await this.caller.callLoaded(
      loaded,
      PodJobDefs.contextList,
      (s) => ({ sessionId: s.id, tenant: s.tenant }),
      this.config.POD_CALL_TIMEOUT_MS,
    );
    return result.items;
  }

  async restart(loaded: LiveSession, context: string): Promise<void> {
    await this.caller.callLoaded(
      loaded,
      PodJobDefs.contextRestart,
      (s) => ({ sessionId: s.id, tenant: s.tenant, context }),
      this.config.POD_CALL_TIMEOUT_MS,
    );
  }

  async remove(loaded: LiveSession, context: string): Promise<void> {
    await this.caller.callLoaded(
      loaded,
      PodJobDefs.contextRemove,
      (s) => ({ sessionId: s.id, tenant: s.tenant, context }),
      this.config.POD_CALL_TIMEOUT_MS,
    );
  }
}
