import {
  Controller,
  Get,
  Header,
  Logger,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { HealthIndicatorResult } from '@nestjs/terminus';
import type Redis from 'ioredis';
import { JobRpcClient, createRedis } from '@executor/queues';
import { PlatformHealthModule, type ReadinessCheck } from '@executor/platform';
import { OPERATOR_CONFIG, operatorIdentity, type OperatorConfig } from '../config/operator-config';
import { KubeClient } from '../kube/kube-client';
import { OperatorMetrics } from '../metrics/operator-metrics';
import { OperatorRuntime } from '../runtime/operator-runtime';

export const REDIS = 'OPERATOR_REDIS';
const READINESS = 'OPERATOR_READINESS';

/** `/metrics` in the Prometheus text format (the operator's own registry). */
@Controller()
class MetricsController {
  constructor(private readonly metrics: OperatorMetrics) {}

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}

/** Starts the runtime when the app boots and stops it (lease released) on shutdown. */
class Lifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Operator');
  constructor(
    private readonly runtime: OperatorRuntime,
    private readonly client: KubeClient,
    private readonly rpc: JobRpcClient,
    private readonly redis: Redis,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.runtime.start();
    this.logger.log(`started as ${operatorIdentity(this.runtime.deps.cfg)}`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.stop();
    await this.rpc.close();
    this.redis.disconnect();
    this.client.close();
  }
}

/** The operator app: its runtime, /health/live, /health/ready and /metrics. */
@Module({})
export class AppModule {
  static forRoot(cfg: OperatorConfig, overrides: { client?: KubeClient } = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        {
          module: class OperatorCoreModule {},
          global: true,
          providers: [
            { provide: OPERATOR_CONFIG, useValue: cfg },
            { provide: REDIS, useFactory: () => createRedis(cfg.REDIS_URL) },
            { provide: OperatorMetrics, useFactory: () => new OperatorMetrics() },
            {
              provide: KubeClient,
              useFactory: () => overrides.client ?? KubeClient.fromConfig(cfg.KUBECONFIG || undefined),
            },
            {
              provide: JobRpcClient,
              useFactory: () =>
                new JobRpcClient({
                  redisUrl: cfg.REDIS_URL,
                  prefix: cfg.QUEUE_PREFIX,
                  callerId: `operator-${operatorIdentity(cfg)}`,
                }),
            },
            {
              provide: OperatorRuntime,
              inject: [KubeClient, OperatorMetrics, REDIS, JobRpcClient],
              useFactory: (client: KubeClient, metrics: OperatorMetrics, redis: Redis, rpc: JobRpcClient) =>
                new OperatorRuntime({ cfg, client, metrics, redis, rpc }),
            },
            {
              provide: READINESS,
              inject: [OperatorRuntime],
              useFactory: (runtime: OperatorRuntime): ReadinessCheck[] => [
                async (): Promise<HealthIndicatorResult> => ({
                  operator: { status: 'up', role: runtime.acting ? 'leader' : 'standby' },
                }),
              ],
            },
            {
              provide: Lifecycle,
              inject: [OperatorRuntime, KubeClient, JobRpcClient, REDIS],
              useFactory: (r: OperatorRuntime, c: KubeClient, rpc: JobRpcClient, redis: Redis) =>
                new Lifecycle(r, c, rpc, redis),
            },
          ],
          exports: [
            OPERATOR_CONFIG,
            REDIS,
            OperatorMetrics,
            KubeClient,
            JobRpcClient,
            OperatorRuntime,
            READINESS,
          ],
        },
        PlatformHealthModule.forRoot({ redisToken: REDIS, extraChecksToken: READINESS }),
      ],
      controllers: [MetricsController],
    };
  }
}
