import { Controller, Get, Inject, Module, type DynamicModule } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  TerminusModule,
  type HealthCheckResult,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import type Redis from 'ioredis';
import { RedisHealthIndicator } from './redis.health';

/** Extra readiness checks an app contributes (e.g. "accepting work"). */
export type ReadinessCheck = () => Promise<HealthIndicatorResult>;

export interface PlatformHealthOptions {
  /** Token of the ioredis client provider whose PING decides readiness. */
  redisToken: string | symbol;
  /** Token of a provider of extra readiness checks (optional). */
  extraChecksToken?: string | symbol;
}

const OPTIONS = Symbol('PLATFORM_HEALTH_OPTIONS');

@Controller('health')
class HealthController {
  private readonly extra: ReadinessCheck[];
  constructor(
    private readonly health: HealthCheckService,
    private readonly redisIndicator: RedisHealthIndicator,
    @Inject(OPTIONS) private readonly options: { redis: Redis; extra?: ReadinessCheck[] },
  ) {
    this.extra = options.extra ?? [];
  }

  /** Liveness: the process answers (no dependency checks, so a Redis outage never restarts pods). */
  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** Readiness: Redis answers (plus the app's own checks). */
  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.redisIndicator.isHealthy('redis', this.options.redis),
      ...this.extra,
    ]);
  }
}

/** `/health/live` and `/health/ready` (terminus) for every app. */
@Module({})
export class PlatformHealthModule {
  static forRoot(opts: PlatformHealthOptions): DynamicModule {
    return {
      module: PlatformHealthModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController],
      providers: [
        RedisHealthIndicator,
        {
          provide: OPTIONS,
          inject: [opts.redisToken, ...(opts.extraChecksToken ? [opts.extraChecksToken] : [])],
          useFactory: (redis: Redis, extra?: ReadinessCheck[]) => ({ redis, extra }),
        },
      ],
    };
  }
}
