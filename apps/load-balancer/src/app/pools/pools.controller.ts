import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { AdminGuard, AnyKeyGuard, CurrentPrincipal } from '../auth/auth';
import type { Principal } from '../auth/keyring';
import { RegisterPoolBody } from '../http/schemas';
import { validateBody } from '../http/validate';
import { PoolsService, type PodStats, type PoolStats, type TenantPodStats } from './pools.service';

/**
 * The pool registry. Reading: any key (a tenant sees its own sessions in `sessions` and
 * `connections`, never other tenants' numbers); registering and deregistering: admin keys only.
 */
@Controller('v1/pools')
export class PoolsController {
  constructor(private readonly pools: PoolsService) {}

  @Get()
  @UseGuards(AnyKeyGuard)
  async list(@CurrentPrincipal() who: Principal): Promise<{ items: PoolStats[] }> {
    return { items: await this.pools.list(who) };
  }

  @Get(':name')
  @UseGuards(AnyKeyGuard)
  get(
    @CurrentPrincipal() who: Principal,
    @Param('name') name: string,
  ): Promise<PoolStats & { podDetails: Array<PodStats | TenantPodStats> }> {
    return this.pools.get(name, who);
  }

  @Post()
  @UseGuards(AdminGuard)
  @HttpCode(201)
  register(@Body() body: unknown): Promise<PoolStats> {
    return this.pools.register(validateBody(RegisterPoolBody, body));
  }

  @Delete(':name')
  @UseGuards(AdminGuard)
  @HttpCode(204)
  async deregister(@Param('name') name: string): Promise<void> {
    await this.pools.deregister(name);
  }
}
