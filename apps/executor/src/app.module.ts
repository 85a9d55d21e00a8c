import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { JobRpcClient, createRedis } from '@executor/queues';
import { PlatformHealthModule, type ReadinessCheck } from '@executor/platform';
import { EXECUTOR_CONFIG, type ExecutorConfig } from './config/executor.config';
import { FilesService } from './files/files.service';
import { SandboxFsService } from './fs/sandbox-fs.service';
import { HeartbeatService } from './heartbeat/heartbeat.service';
import { ExecutorMetrics, defaultMetricsRegistered, metricProviders } from './metrics/metrics';
import { PackagesService } from './packages/packages.service';
import { ReadinessService } from './readiness/readiness.service';
import { SandboxService } from './sandbox/sandbox.service';
import { SessionsService } from './sessions/sessions.service';
import { WarmPoolService } from './sessions/warm-pool.service';
import { ShutdownService } from './shutdown/shutdown.service';
import { PERSISTENCE_RPC, READINESS_CHECKS, REDIS } from './tokens';
import { PodWorkerService } from './worker/pod-worker.service';

/** Closes the shared connections last. */
@Injectable()
class Connections implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(PERSISTENCE_RPC) private readonly rpc: JobRpcClient,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.rpc.close().catch(() => undefined);
    this.redis.disconnect();
  }
}

/** Every provider of the executor (global so the health module sees REDIS and the readiness checks). */
@Module({})
class ExecutorCoreModule {
  static forRoot(cfg: ExecutorConfig): DynamicModule {
    return {
      module: ExecutorCoreModule,
      global: true,
      providers: [
        { provide: EXECUTOR_CONFIG, useValue: cfg },
        { provide: REDIS, useFactory: () => createRedis(cfg.REDIS_URL) },
        {
          provide: PERSISTENCE_RPC,
          useFactory: () =>
            new JobRpcClient({
              redisUrl: cfg.REDIS_URL,
              prefix: cfg.QUEUE_PREFIX,
              callerId: `executor-${cfg.POD_NAME}-${randomBytes(4).toString('hex')}`,
            }),
        },
        {
          provide: READINESS_CHECKS,
          inject: [PodWorkerService, SessionsService, ReadinessService],
          useFactory: (
            worker: PodWorkerService,
            sessions: SessionsService,
            readiness: ReadinessService,
          ): ReadinessCheck[] => [
            async () => ({
              worker: {
                status: worker.running && sessions.accepting ? 'up' : 'down',
                running: worker.running,
                accepting: sessions.accepting,
              },
            }),
            async () => {
              const r = readiness.current;
              return {
                template: {
                  status: r.ready ? 'up' : 'down',
                  template: cfg.TEMPLATE,
                  ...(r.reason ? { reason: r.reason } : {}),
                  ...(r.smoke ? { smokeMs: r.smoke.ms } : {}),
                },
              };
            },
            async () => {
              const c = readiness.current.containment;
              return {
                sandbox: {
                  status: c.ready ? 'up' : 'down',
                  mode: c.mode,
                  ...(c.reason ? { reason: c.reason } : {}),
                  warnings: c.warnings,
                },
              };
            },
          ],
        },
        ...metricProviders,
        ExecutorMetrics,
        SandboxService,
        ReadinessService,
        WarmPoolService,
        SessionsService,
        FilesService,
        SandboxFsService,
        PackagesService,
        PodWorkerService,
        HeartbeatService,
        ShutdownService,
        Connections,
      ],
      exports: [
        EXECUTOR_CONFIG,
        REDIS,
        READINESS_CHECKS,
        SessionsService,
        WarmPoolService,
        ShutdownService,
        HeartbeatService,
        PodWorkerService,
        SandboxService,
        ReadinessService,
      ],
    };
  }
}

/** The executor application: worker, heartbeats, /health, /metrics. */
@Module({})
export class AppModule {
  static forRoot(cfg: ExecutorConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ExecutorCoreModule.forRoot(cfg),
        PrometheusModule.register({
          path: '/metrics',
          defaultMetrics: { enabled: !defaultMetricsRegistered() },
        }),
        PlatformHealthModule.forRoot({ redisToken: REDIS, extraChecksToken: READINESS_CHECKS }),
      ],
    };
  }
}
