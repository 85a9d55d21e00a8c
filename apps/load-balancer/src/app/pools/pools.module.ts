import { Module } from '@nestjs/common';
import { PoolsController } from './pools.controller';
import { PoolsService } from './pools.service';

/** Pool registry (GET/POST/DELETE /v1/pools) and live pool stats. */
@Module({ controllers: [PoolsController], providers: [PoolsService], exports: [PoolsService] })
export class PoolsModule {}
