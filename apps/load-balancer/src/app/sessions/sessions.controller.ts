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
import { SessionsService, type SessionView } from './sessions.service';

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

  @Post(':id/persist')
  @HttpCode(200)
  persist(
    @Tenant() tenant: string,
    @Param('id') id: string,
  ): Promise<{ version: number; bytes: number; at: string }> {
    return this.sessions.persist(tenant, id);
  }
}
