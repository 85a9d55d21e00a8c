import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { cpus, loadavg } from 'node:os';
import type Redis from 'ioredis';
import { podQueueName, removeHeartbeat, writeHeartbeat, type PodHeartbeat } from '@executor/queues';
import { EXECUTOR_CONFIG, type ExecutorConfig } from '../config/executor.config';
import { ReadinessService } from '../readiness/readiness.service';
import { SessionsService } from '../sessions/sessions.service';
import { REDIS } from '../tokens';

/** Executor version advertised in heartbeats. */
export const EXECUTOR_VERSION = '0.1.0';

/** Publishes this pod's heartbeat every HEARTBEAT_INTERVAL_MS (expires after 3 periods). */
@Injectable()
export class HeartbeatService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(HeartbeatService.name);
  private timer?: NodeJS.Timeout;
  private readonly startedAt = new Date().toISOString();
  private stopped = false;

  constructor(
    @Inject(EXECUTOR_CONFIG) private readonly cfg: ExecutorConfig,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly sessions: SessionsService,
    private readonly readiness: ReadinessService,
  ) {
    readiness.onChange(() => void this.beat());
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.cfg.HEARTBEAT_INTERVAL_MS);
  }

  current(): PodHeartbeat {
    return {
      pool: this.cfg.POOL_NAME,
      pod: this.cfg.POD_NAME,
      template: this.cfg.TEMPLATE,
      ...(this.cfg.REGION ? { region: this.cfg.REGION } : {}),
      capacity: this.cfg.MAX_SESSIONS,
      sessions: this.sessions.count,
      running: this.sessions.running,
      load: Math.round(((loadavg()[0] ?? 0) / Math.max(1, cpus().length)) * 100) / 100,
      version: EXECUTOR_VERSION,
      queue: podQueueName(this.cfg.POD_NAME),
      accepting: this.sessions.accepting,
      healthy: this.readiness.current.ready,
      ...(this.readiness.current.reason ? { reason: this.readiness.current.reason.slice(0, 2000) } : {}),
      startedAt: this.startedAt,
      at: new Date().toISOString(),
    };
  }

  /** Writes one heartbeat now (also called when `accepting` flips, so routers see it at once). */
  async beat(): Promise<void> {
    if (this.stopped) return;
    try {
      await writeHeartbeat(this.redis, this.current(), {
        prefix: this.cfg.QUEUE_PREFIX,
        ttlMs: this.cfg.HEARTBEAT_INTERVAL_MS * 3,
      });
    } catch (err) {
      this.logger.warn(`heartbeat failed: ${(err as Error).message}`);
    }
  }

  /** Stops beating and removes the heartbeat (graceful exit). */
  async remove(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await removeHeartbeat(this.redis, this.cfg.POOL_NAME, this.cfg.POD_NAME, this.cfg.QUEUE_PREFIX).catch(
      () => undefined,
    );
  }

  onModuleDestroy(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }
}
