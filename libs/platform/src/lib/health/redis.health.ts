import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type Redis from 'ioredis';

/** Terminus indicator: Redis answers PING within `timeoutMs`. */
@Injectable()
export class RedisHealthIndicator {
  constructor(private readonly health: HealthIndicatorService) {}

  async isHealthy(key: string, redis: Redis, timeoutMs = 1000): Promise<HealthIndicatorResult> {
    const session = this.health.check(key);
    try {
      const pong = await Promise.race([
        redis.ping(),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs).unref(),
        ),
      ]);
      return pong === 'PONG' ? session.up() : session.down({ message: `unexpected reply ${pong}` });
    } catch (err) {
      return session.down({ message: (err as Error).message });
    }
  }
}
