import { Logger, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { PlatformHealthModule } from '@executor/platform';
import { AdminModule } from './admin/admin.module';
import { PERSISTENCE_CONFIG, type PersistenceConfig } from './config/config';
import { InternalModule } from './internal/internal.module';
import { RedisModule } from './redis/redis.module';
import { REDIS } from './redis/redis.tokens';
import { RestoreModule } from './restore/restore.module';
import { SnapshotModule } from './snapshot/snapshot.module';
import { StoreModule } from './store/store.module';
import { SweeperModule } from './sweeper/sweeper.module';
import { WorkersModule } from './workers/workers.module';

@Module({})
class ConfigHolderModule {}

/** The persistence service: queue workers, state store, sweeper, internal HTTP API, health, metrics. */
@Module({})
export class AppModule implements OnApplicationShutdown {
  private readonly logger = new Logger('Persistence');

  /** Runs after every worker drained its in-flight jobs (beforeApplicationShutdown). */
  onApplicationShutdown(signal?: string): void {
    this.logger.log(`persistence stopped${signal ? ` (${signal})` : ''}: workers drained`);
  }

  static forRoot(config: PersistenceConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        {
          module: ConfigHolderModule,
          global: true,
          providers: [{ provide: PERSISTENCE_CONFIG, useValue: config }],
          exports: [PERSISTENCE_CONFIG],
        },
        RedisModule,
        StoreModule,
        WorkersModule,
        PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } }),
        PlatformHealthModule.forRoot({ redisToken: REDIS }),
        SnapshotModule,
        RestoreModule,
        AdminModule,
        SweeperModule,
        InternalModule,
      ],
    };
  }
}
