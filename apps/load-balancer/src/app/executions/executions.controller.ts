import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Logger,
  Param,
  Post,
  Res,
  UseGuards,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiKeyGuard, Tenant } from '../auth/auth';
import { EventStreamWriter, streamFormat } from '../http/event-stream';
import { mapError } from '../http/exception.filter';
import { ExecuteBody } from '../http/schemas';
import { validateBody } from '../http/validate';
import { SessionCaller } from '../sessions/session-caller.service';
import { checkSessionId } from '../sessions/sessions.service';
import { SessionStore, type HistoryEntry } from '../state/session-store';
import { DEFAULT_EXECUTION_TIMEOUT_MS, ExecutionsService, type ExecutionView } from './executions.service';

export { DEFAULT_EXECUTION_TIMEOUT_MS, type ExecutionView };

/**
 * `POST …/executions`: a JSON answer when it finishes, or (Accept: text/event-stream or
 * application/x-ndjson) the events as they happen, ending with `end` (the same fields as the JSON
 * answer; `{error: {code, message}}` if the call failed after the stream began).
 */
@Controller('v1/sessions/:id/executions')
@UseGuards(ApiKeyGuard)
export class ExecutionsController {
  constructor(
    private readonly caller: SessionCaller,
    private readonly executions: ExecutionsService,
    private readonly store: SessionStore,
  ) {}

  @Post()
  @HttpCode(200)
  async execute(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Body() raw: unknown,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ExecutionView | undefined> {
    const body = validateBody(ExecuteBody, raw);
    this.executions.checkCode(body.code);
    const format = streamFormat(accept);
    const loaded = await this.caller.load(tenant, checkSessionId(id));
    const params = {
      code: body.code,
      timeoutMs: body.timeoutMs ?? DEFAULT_EXECUTION_TIMEOUT_MS,
      ...(body.language ? { language: body.language } : {}),
      ...(body.context ? { context: body.context } : {}),
      ...(body.env ? { env: body.env } : {}),
    };
    if (!format) return this.executions.run(loaded, params);
    reply.hijack();
    const out = new EventStreamWriter(reply.raw, format);
    try {
      const view = await this.executions.run(loaded, params, (e) => {
        if (e.t === 'stdout' || e.t === 'stderr') out.send(e.t, { text: e.text, ts: e.ts });
        else if (e.t === 'result') out.send('result', e.result);
        else if (e.t === 'error') out.send('error', e.error);
      });
      out.send('end', view as unknown as Record<string, unknown>);
    } catch (err) {
      const m = mapError(err);
      if (m.internal) this.logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      out.send('end', m.body as unknown as Record<string, unknown>);
    } finally {
      out.end();
    }
    return undefined;
  }

  private readonly logger = new Logger(ExecutionsController.name);

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
