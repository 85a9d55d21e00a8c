import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiKeyGuard } from '../auth/auth';
import { RegisterPoolBody } from '../http/schemas';
import { validateBody } from '../http/validate';
import { PoolsService, type PodStats, type PoolStats } from './pools.service';

@Controller('v1/pools')
@UseGuards(ApiKeyGuard)
export class PoolsController {
  constructor(private readonly pools: PoolsService) {}

  @Get()
  async list(): Promise<{ items: PoolStats[] }> {
    return { items: await this.pools.list() };
  }

  @Get(':name')
  get(@Param('name') name: string): Promise<PoolStats & { podDetails: PodStats[] }> {
    return this.pools.get(name);
  }

  @Post()
  @HttpCode(201)
  register(@Body() body: unknown): Promise<PoolStats> {
    return this.pools.register(validateBody(RegisterPoolBody, body));
  }

  @Delete(':name')
  @HttpCode(204)
  async deregister(@Param('name') name: string): Promise<void> {
    await this.pools.deregister(name);
  }
}
