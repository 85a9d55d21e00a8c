import { Injectable, Logger, Inject } from '@nestjs/common';
import { EXECUTOR_CONFIG, type ExecutorConfig } from '../config/executor.config';
import { HeartbeatService } from '../heartbeat/heartbeat.service';
import { SessionsService } from '../sessions/sessions.service';
import { PodWorkerService } from '../worker/pod-worker.service';

export interface DrainReport {
  snapshotted: number;
  failed: number;
  ms: number;
}

/**
 * Graceful shutdown (SIGTERM): stop accepting (heartbeat accepting=false at once), stop taking
 * jobs and let in-flight ones finish (bounded by SHUTDOWN_TIMEOUT_MS), snapshot every persistent
 * session, close kernels and workspaces, remove the heartbeat.
 */
@Injectable()
export class ShutdownService {
  private readonly logger = new Logger(ShutdownService.name);
  private draining?: Promise<DrainReport>;

  constructor(
    @Inject(EXECUTOR_CONFIG) private readonly cfg: ExecutorConfig,
    private readonly sessions: SessionsService,
    private readonly worker: PodWorkerService,
    private readonly heartbeat: HeartbeatService,
  ) {}

  drain(): Promise<DrainReport> {
    this.draining ??= this.doDrain();
    return this.draining;
  }

  private async doDrain(): Promise<DrainReport> {
    const t0 = Date.now();
    this.sessions.stopAccepting();
    await this.heartbeat.beat();
    this.logger.log(`draining: finishing in-flight jobs (up to ${this.cfg.SHUTDOWN_TIMEOUT_MS} ms)`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.worker.close(),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.logger.warn('in-flight jobs did not finish in time; snapshotting anyway');
          resolve();
        }, this.cfg.SHUTDOWN_TIMEOUT_MS);
      }),
    ]);
    if (timer) clearTimeout(timer);
    const { stored, failed } = await this.sessions.snapshotAll('shutdown');
    await this.sessions.closeAll();
    await this.heartbeat.remove();
    const ms = Date.now() - t0;
    this.logger.log(`drained: ${stored} session(s) snapshotted, ${failed} failed, in ${ms} ms`);
    return { snapshotted: stored, failed, ms };
  }
}
