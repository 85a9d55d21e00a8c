import { Controller, Get, Module, type DynamicModule } from '@nestjs/common';
import { PlatformHealthModule } from '@executor/platform';
import { AdminService } from './admin/admin.service';
import type { LbConfig } from './config/config';
import { CoreModule } from './core/core.module';
import { REDIS } from './core/tokens';
import { QueueConsumersService } from './events/queue-consumers.service';
import { SweeperService } from './expiry/sweeper.service';
import { LbMetricsModule } from './metrics/metrics.module';
import { PoolsModule } from './pools/pools.module';
import { SessionsModule } from './sessions/sessions.module';
import { E2bModule } from './e2b/e2b.module';

/** A bare endpoint (no auth, no Redis): the bench's baseline for the framework's own cost. */
@Controller()
export class PingController {
  @Get('ping')
  ping(): { pong: true } {
    return { pong: true };
  }
}

@Module({})
export class AppModule {
  static forRoot(config: LbConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.forRoot(config),
        PlatformHealthModule.forRoot({ redisToken: REDIS }),
        LbMetricsModule,
        PoolsModule,
        SessionsModule,
        ...(config.E2B_API === 'enabled' ? [E2bModule] : []),
      ],
      controllers: [PingController],
      providers: [QueueConsumersService, SweeperService, AdminService],
    };
  }
}
