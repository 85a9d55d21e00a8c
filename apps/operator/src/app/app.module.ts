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
import { ExternalMetricsService } from '../external-metrics/external-metrics.service';
import { KubeClient } from '../kube/kube-client';
import { OperatorMetrics } from '../metrics/operator-metrics';
import { OperatorRuntime } from '../runtime/operator-runtime';

export const REDIS = 'OPERATOR_REDIS';
/** The ExternalMetricsService, or null when EXTERNAL_METRICS_ENABLED=false. */
export const EXTERNAL_METRICS = 'OPERATOR_EXTERNAL_METRICS';
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
    private readonly externalMetrics: ExternalMetricsService | undefined,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.externalMetrics?.start();
    await this.runtime.start();
    this.logger.log(`started as ${operatorIdentity(this.runtime.deps.cfg)}`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.externalMetrics?.stop();
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
              provide: EXTERNAL_METRICS,
              inject: [KubeClient, REDIS, OperatorMetrics],
              useFactory: (c: KubeClient, redis: Redis, m: OperatorMetrics): ExternalMetricsService | null =>
                cfg.EXTERNAL_METRICS_ENABLED ? new ExternalMetricsService(cfg, c, redis, m) : null,
            },
            {
              provide: READINESS,
              inject: [OperatorRuntime, EXTERNAL_METRICS],
              useFactory: (runtime: OperatorRuntime, em: ExternalMetricsService | null): ReadinessCheck[] => [
                async (): Promise<HealthIndicatorResult> => ({
                  operator: {
                    status: 'up',
                    role: runtime.acting ? 'leader' : 'standby',
                    // Informational: scaling of the pools depends on it, the operator's own work does not.
                    ...(em ? { externalMetrics: em.state } : {}),
                  },
                }),
              ],
            },
            {
              provide: Lifecycle,
              inject: [OperatorRuntime, KubeClient, JobRpcClient, REDIS, EXTERNAL_METRICS],
              useFactory: (
                r: OperatorRuntime,
                c: KubeClient,
                rpc: JobRpcClient,
                redis: Redis,
                em: ExternalMetricsService | null,
              ) => new Lifecycle(r, c, rpc, redis, em ?? undefined),
            },
          ],
          exports: [
            OPERATOR_CONFIG,
            REDIS,
            OperatorMetrics,
            KubeClient,
            JobRpcClient,
            OperatorRuntime,
            EXTERNAL_METRICS,
            READINESS,
          ],
        },
        PlatformHealthModule.forRoot({ redisToken: REDIS, extraChecksToken: READINESS }),
      ],
      controllers: [MetricsController],
    };
  }
}
