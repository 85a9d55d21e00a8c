import { randomUUID } from 'node:crypto';
import { Body, Controller, Get, HttpCode, Inject, Param, Post, UseGuards } from '@nestjs/common';
import { PodJobDefs } from '@executor/queues';
import { ApiKeyGuard, Tenant } from '../auth/auth';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { ApiError } from '../http/api-error';
import { ExecuteBody } from '../http/schemas';
import { validateBody } from '../http/validate';
import { QuotaService } from '../limits/quota.service';
import { SessionCaller } from '../sessions/session-caller.service';
import { checkSessionId } from '../sessions/sessions.service';
import { SessionStore, type HistoryEntry } from '../state/session-store';

export const DEFAULT_EXECUTION_TIMEOUT_MS = 30_000;

export interface ExecutionView {
  id: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  truncated: boolean;
  at: string;
}

@Controller('v1/sessions/:id/executions')
@UseGuards(ApiKeyGuard)
export class ExecutionsController {
  constructor(
    private readonly caller: SessionCaller,
    private readonly store: SessionStore,
    private readonly quota: QuotaService,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
  ) {}

  @Post()
  @HttpCode(200)
  async execute(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Body() raw: unknown,
  ): Promise<ExecutionView> {
    const body = validateBody(ExecuteBody, raw);
    if (
      body.code.length > this.config.MAX_CODE_BYTES / 3 &&
      Buffer.byteLength(body.code) > this.config.MAX_CODE_BYTES
    ) {
      throw new ApiError('payload_too_large', `code: larger than ${this.config.MAX_CODE_BYTES} bytes`);
    }
    const timeoutMs = body.timeoutMs ?? DEFAULT_EXECUTION_TIMEOUT_MS;
    // randomUUID draws from a cached entropy pool (randomBytes per call costs a syscall).
    const executionId = `exe-${randomUUID()}`;
    // Executions in flight per tenant (TENANT_MAX_RUNNING_EXECUTIONS), all replicas.
    const release = await this.quota.acquireExecution(tenant, executionId, timeoutMs);
    try {
      return await this.run(tenant, id, body, executionId, timeoutMs);
    } finally {
      await release().catch(() => undefined);
    }
  }

  private async run(
    tenant: string,
    id: string,
    body: ExecuteBody,
    executionId: string,
    timeoutMs: number,
  ): Promise<ExecutionView> {
    const { session, result } = await this.caller.call(
      tenant,
      checkSessionId(id),
      PodJobDefs.execute,
      (s) => ({
        sessionId: s.id,
        tenant: s.tenant,
        executionId,
        code: body.code,
        timeoutMs,
        ...(body.language ? { language: body.language } : {}),
        ...(body.env ? { env: body.env } : {}),
      }),
      timeoutMs + this.config.JOB_TIMEOUT_GRACE_MS,
    );
    const entry: HistoryEntry = {
      id: result.id,
      code: body.code,
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
    };
  }

  @Get()
  async history(
    @Tenant() tenant: string,
    @Param('id') id: string,
  ): Promise<{ items: Omit<HistoryEntry, 'timedOut'>[] }> {
    const { session } = await this.caller.load(tenant, checkSessionId(id));
    const items = await this.store.history(session.id);
    return {
      items: items.map((e) => ({
        id: e.id,
        code: e.code,
        exitCode: e.exitCode,
        durationMs: e.durationMs,
        at: e.at,
      })),
    };
  }
}
