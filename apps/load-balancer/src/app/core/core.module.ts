import {
  Global,
  Inject,
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type Redis from 'ioredis';
import { JobRpcClient, JobCallError, createRedis } from '@executor/queues';
import { CircuitBreakerModule } from '@executor/circuit-breaker';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { SessionStore } from '../state/session-store';
import { PoolStore } from '../state/pool-view';
import { IdempotencyService } from '../idempotency/idempotency.service';
import { QuotaService } from '../limits/quota.service';
import { InFlight } from './in-flight';
import { REDIS, RPC } from './tokens';

/** Job error codes that are the pool's fault (count against its circuit breaker). */
const INFRA_CODES = new Set(['timeout', 'unavailable', 'internal']);

/**
 * Breaker failure filter: infrastructure failures count (no pod answered, queue timeouts, crashes);
 * client errors and the user's code failing do not.
 */
export function isInfrastructureFailure(err: unknown): boolean {
  if (err instanceof JobCallError) return INFRA_CODES.has(err.code);
  return true;
}

/** Logs connection errors of a client at most every 10 s (ioredis reconnects by itself). */
export function logRedisErrors(redis: Redis, name: string): void {
  const logger = new Logger(name);
  let last = 0;
  redis.on('error', (err: Error) => {
    if (Date.now() - last < 10_000) return;
    last = Date.now();
    logger.warn(`${err.message} (reconnecting)`);
  });
}

/** Shared singletons of a replica: config, Redis, the RPC client, the stores, breakers. */
@Global()
@Module({})
export class CoreModule implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(RPC) private readonly rpc: JobRpcClient,
  ) {}

  static forRoot(config: LbConfig): DynamicModule {
    return {
      module: CoreModule,
      imports: [
        CircuitBreakerModule.forRoot({
          failureThreshold: config.BREAKER_FAILURE_THRESHOLD,
          recoveryTimeoutMs: config.BREAKER_RECOVERY_TIMEOUT_MS,
          halfOpenRequests: config.BREAKER_HALF_OPEN_REQUESTS,
          isFailure: isInfrastructureFailure,
        }),
      ],
      providers: [
        { provide: LB_CONFIG, useValue: config },
        {
          provide: REDIS,
          // Auto-pipelining: commands of concurrent requests issued in the same tick share one write.
          useFactory: (): Redis => {
            const r = createRedis(config.REDIS_URL, {
              connectionName: `lb-${config.replicaId}`,
              enableAutoPipelining: true,
            });
            logRedisErrors(r, 'redis');
            return r;
          },
        },
        {
          provide: RPC,
          useFactory: (): JobRpcClient =>
            new JobRpcClient({
              redisUrl: config.REDIS_URL,
              prefix: config.QUEUE_PREFIX,
              callerId: `lb-${config.replicaId}`,
            }),
        },
        {
          provide: SessionStore,
          inject: [REDIS],
          useFactory: (r: Redis) => new SessionStore(r, config.QUEUE_PREFIX, config.HISTORY_LIMIT),
        },
        {
          provide: PoolStore,
          inject: [REDIS],
          useFactory: (r: Redis) => new PoolStore(r, config.QUEUE_PREFIX),
        },
        InFlight,
        QuotaService,
        IdempotencyService,
      ],
      exports: [
        LB_CONFIG,
        REDIS,
        RPC,
        SessionStore,
        PoolStore,
        InFlight,
        QuotaService,
        IdempotencyService,
        CircuitBreakerModule,
      ],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.rpc.close();
    this.redis.disconnect();
  }
}
