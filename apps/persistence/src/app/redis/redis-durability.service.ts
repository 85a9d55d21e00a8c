import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import type Redis from 'ioredis';
import { REDIS } from './redis.tokens';

/** Redis settings the platform needs (see apps/persistence/redis.conf). */
export const REQUIRED_REDIS_SETTINGS = {
  'maxmemory-policy': 'noeviction',
  appendonly: 'yes',
  appendfsync: ['always', 'everysec'],
} as const;

export interface DurabilityReport {
  /** False when CONFIG GET is disabled/renamed (managed Redis): nothing could be checked. */
  checked: boolean;
  problems: string[];
}

/**
 * Checks at boot that Redis will not lose or evict state: AOF on, fsync at least every
 * second, and `noeviction` (BullMQ and the blob store must never be evicted). Problems are
 * logged loudly but do not stop the service; CONFIG being unavailable is tolerated.
 */
@Injectable()
export class RedisDurabilityService implements OnApplicationBootstrap {
  private readonly logger = new Logger(RedisDurabilityService.name);
  lastReport: DurabilityReport | undefined;

  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async onApplicationBootstrap(): Promise<void> {
    this.lastReport = await this.check();
  }

  async check(): Promise<DurabilityReport> {
    let values: Record<string, string>;
    try {
      values = {};
      for (const key of ['maxmemory-policy', 'appendonly', 'appendfsync']) {
        const pair = (await this.redis.config('GET', key)) as string[];
        values[key] = pair[1] ?? '';
      }
    } catch (err) {
      this.logger.warn(
        `cannot read Redis CONFIG (${(err as Error).message}); make sure it runs with AOF on and maxmemory-policy noeviction (apps/persistence/redis.conf)`,
      );
      return { checked: false, problems: [] };
    }
    const problems: string[] = [];
    if (values['maxmemory-policy'] !== REQUIRED_REDIS_SETTINGS['maxmemory-policy']) {
      problems.push(
        `maxmemory-policy is "${values['maxmemory-policy']}": Redis may EVICT queue jobs and stored session state; set it to noeviction`,
      );
    }
    if (values['appendonly'] !== 'yes')
      problems.push('appendonly is off: a Redis restart loses every snapshot since the last RDB save');
    else if (
      !(REQUIRED_REDIS_SETTINGS.appendfsync as readonly string[]).includes(values['appendfsync'] ?? '')
    ) {
      problems.push(`appendfsync is "${values['appendfsync']}": use everysec or always`);
    }
    for (const p of problems) this.logger.error(`REDIS DURABILITY: ${p}`);
    return { checked: true, problems };
  }
}
