import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import {
  EventJobDefs,
  PodEventTypes,
  PoolRegistryJobs,
  QueueNames,
  bullConnection,
  parsePayload,
  JobError,
} from '@executor/queues';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { ApiError } from '../http/api-error';
import { PoolsService } from '../pools/pools.service';
import { MigrationReason, MigrationService } from '../sessions/migration.service';
import { SessionStore } from '../state/session-store';

/** Sessions migrated at once when a pod is reported deleted. */
const MIGRATION_CONCURRENCY = 8;

/**
 * Consumes the operator's queues: `pod-events` (a pod was deleted: migrate its sessions now) and
 * `pool-registry` (register / deregister the pools it manages). Payloads are validated.
 */
@Injectable()
export class QueueConsumersService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(QueueConsumersService.name);
  private workers: Worker[] = [];

  constructor(
    @Inject(LB_CONFIG) private readonly config: LbConfig,
    private readonly pools: PoolsService,
    private readonly migration: MigrationService,
    private readonly store: SessionStore,
  ) {}

  onApplicationBootstrap(): void {
    const opts = {
      connection: bullConnection(this.config.REDIS_URL),
      prefix: this.config.QUEUE_PREFIX,
      concurrency: 4,
    };
    this.workers = [
      new Worker(QueueNames.podEvents, (job: Job) => this.onPodEvent(job), opts),
      new Worker(QueueNames.poolRegistry, (job: Job) => this.onPoolRegistry(job), opts),
    ];
    for (const w of this.workers) w.on('error', (err) => this.logger.warn(`${w.name}: ${err.message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.close()));
  }

  async onPodEvent(job: Job): Promise<{ migrated: number; failed: number }> {
    if (job.name !== PodEventTypes.deleted)
      throw new JobError('invalid_argument', `unknown job "${job.name}" on ${QueueNames.podEvents}`);
    const ev = parsePayload(EventJobDefs.podDeleted, job.data);
    // Calls waiting on the pod (on every replica) see it as draining from now on.
    await this.store.markPodGone(ev.pod);
    return this.migratePod(ev.pod, MigrationReason.PodDeleted, true);
  }

  /** Moves every session of `pod` (eagerly) to live pods of their pools. */
  async migratePod(
    pod: string,
    reason: string,
    force = false,
  ): Promise<{ migrated: number; failed: number }> {
    const ids = await this.store.podSessionIds(pod);
    let migrated = 0;
    let failed = 0;
    const queue = [...ids];
    const worker = async (): Promise<void> => {
      for (let id = queue.shift(); id; id = queue.shift()) {
        const r = await this.store.load(id, '*', 'peek');
        if (r.status !== 'ok' || r.session.pod !== pod) continue;
        try {
          await this.migration.migrate(r.session, reason, { force });
          migrated++;
        } catch (err) {
          failed++;
          this.logger.warn(`migration of ${id} off ${pod} failed: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: MIGRATION_CONCURRENCY }, worker));
    if (failed === 0) await this.store.forgetPodIfEmpty(pod);
    return { migrated, failed };
  }

  async onPoolRegistry(job: Job): Promise<Record<string, never>> {
    if (job.name === PoolRegistryJobs.register) {
      const reg = parsePayload(EventJobDefs.poolRegister, job.data);
      try {
        await this.pools.register({
          name: reg.name,
          template: reg.template,
          region: reg.region,
          weight: reg.weight,
          managedBy: reg.managedBy ?? 'operator',
        });
      } catch (err) {
        if (err instanceof ApiError && err.status < 500)
          throw new JobError(err.code === 'conflict' ? 'conflict' : 'invalid_argument', err.message);
        throw err;
      }
      return {};
    }
    if (job.name === PoolRegistryJobs.deregister) {
      const { name } = parsePayload(EventJobDefs.poolDeregister, job.data);
      await this.pools.deregister(name).catch((err: unknown) => {
        if (!(err instanceof ApiError && err.code === 'not_found')) throw err; // already gone: fine
      });
      return {};
    }
    throw new JobError('invalid_argument', `unknown job "${job.name}" on ${QueueNames.poolRegistry}`);
  }
}
