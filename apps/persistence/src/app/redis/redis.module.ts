import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { createRedis } from '@executor/queues';
import { PERSISTENCE_CONFIG, type PersistenceConfig } from '../config/config';
import { RedisDurabilityService } from './redis-durability.service';
import { REDIS } from './redis.tokens';

/** The shared ioredis client (closed last, after the workers) and the durability check. */
@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [PERSISTENCE_CONFIG],
      useFactory: (config: PersistenceConfig): Redis => createRedis(config.REDIS_URL),
    },
    RedisDurabilityService,
  ],
  exports: [REDIS, RedisDurabilityService],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
