import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { Type } from '@sinclair/typebox';
import type { ContextInfo } from '@executor/queues';
import { ApiKeyGuard, Tenant } from '../auth/auth';
import { validateBody } from '../http/validate';
import { SessionCaller } from '../sessions/session-caller.service';
import { checkSessionId } from '../sessions/sessions.service';
import { ContextsService } from './contexts.service';

const CreateContextBody = Type.Object(
  {
    language: Type.String({ minLength: 1, maxLength: 32 }),
    cwd: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  },
  { additionalProperties: false },
);

/** Contexts of a session (independent kernels); executions pick one with `context`. */
@Controller('v1/sessions/:id/contexts')
@UseGuards(ApiKeyGuard)
export class ContextsController {
  constructor(
    private readonly caller: SessionCaller,
    private readonly contexts: ContextsService,
  ) {}

  @Post()
  @HttpCode(201)
  async create(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Body() raw: unknown,
  ): Promise<ContextInfo> {
    const body = validateBody(CreateContextBody, raw);
    return this.contexts.create(await this.caller.load(tenant, checkSessionId(id)), body.language, body.cwd);
  }

  @Get()
  async list(@Tenant() tenant: string, @Param('id') id: string): Promise<{ items: ContextInfo[] }> {
    return { items: await this.contexts.list(await this.caller.load(tenant, checkSessionId(id))) };
  }

  @Post(':context/restart')
  @HttpCode(204)
  async restart(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Param('context') ctx: string,
  ): Promise<void> {
    await this.contexts.restart(await this.caller.load(tenant, checkSessionId(id)), ctx);
  }

  @Delete(':context')
  @HttpCode(204)
  async remove(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Param('context') ctx: string,
  ): Promise<void> {
    await this.contexts.remove(await this.caller.load(tenant, checkSessionId(id)), ctx);
  }
}
