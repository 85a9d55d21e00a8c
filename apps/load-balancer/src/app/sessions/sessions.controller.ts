import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Patch,
  Post,
  UseGuards,
} from '@nestjs/common';
import { ApiKeyGuard, Tenant } from '../auth/auth';
import { CreateSessionBody, PatchSessionBody } from '../http/schemas';
import { validateBody } from '../http/validate';
import { ApiError } from '../http/api-error';
import { SessionsService, toView, type SessionView } from './sessions.service';

@Controller('v1/sessions')
@UseGuards(ApiKeyGuard)
export class SessionsController {
  constructor(private readonly sessions: SessionsService) {}

  @Post()
  @HttpCode(201)
  create(
    @Tenant() tenant: string,
    @Body() body: unknown,
    @Headers('x-client-region') region?: string,
  ): Promise<SessionView> {
    return this.sessions.create(tenant, validateBody(CreateSessionBody, body), region || undefined);
  }

  @Get()
  async list(@Tenant() tenant: string): Promise<{ items: SessionView[] }> {
    return { items: await this.sessions.list(tenant) };
  }

  @Get(':id')
  get(@Tenant() tenant: string, @Param('id') id: string): Promise<SessionView> {
    return this.sessions.get(tenant, id);
  }

  @Patch(':id')
  extend(@Tenant() tenant: string, @Param('id') id: string, @Body() body: unknown): Promise<SessionView> {
    return this.sessions.extend(tenant, id, validateBody(PatchSessionBody, body).ttlSeconds);
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Tenant() tenant: string, @Param('id') id: string): Promise<void> {
    await this.sessions.delete(tenant, id);
  }

  /** Persist, then release the kernel and pod slot (E2B pause); 409 when it is not running. */
  @Post(':id/pause')
  @HttpCode(204)
  async pause(@Tenant() tenant: string, @Param('id') id: string): Promise<void> {
    if (!(await this.sessions.pause(tenant, id)))
      throw new ApiError('conflict', `session "${id}" is not running (already paused?)`);
  }

  /** Back onto a pod from its snapshot (files, env, packages kept; kernels start empty). */
  @Post(':id/resume')
  @HttpCode(200)
  async resume(@Tenant() tenant: string, @Param('id') id: string): Promise<SessionView> {
    return toView((await this.sessions.resume(tenant, id)).session);
  }

  @Post(':id/persist')
  @HttpCode(200)
  persist(
    @Tenant() tenant: string,
    @Param('id') id: string,
  ): Promise<{ version: number; bytes: number; at: string }> {
    return this.sessions.persist(tenant, id);
  }
}
