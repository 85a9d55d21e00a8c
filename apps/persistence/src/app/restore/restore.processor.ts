import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Worker } from 'bullmq';
import type Redis from 'ioredis';
import {
  PersistenceJobDefs,
  QueueNames,
  parsePayload,
  putTransfer,
  tagOfJobId,
  type RestoreResult,
} from '@executor/queues';
import { encodeState } from '@executor/session-state';
import { PERSISTENCE_CONFIG, type PersistenceConfig } from '../config/config';
import { Outcomes, PersistenceMetrics } from '../metrics/persistence-metrics';
import { REDIS } from '../redis/redis.tokens';
import { requesterMayAccess } from '../store/requester';
import { StateStore } from '../store/state-store';
import { WorkerFactory } from '../workers/worker-factory';

/**
 * Consumes `state.restore` jobs on QueueNames.restore: the newest intact version, encoded with
 * `encodeState` from the stored blobs as they are (section kind 2: no decompression and
 * recompression here; the executor's `decodeState` decompresses and checks each sha256) and
 * handed over with putTransfer.
 */
@Injectable()
export class RestoreProcessor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(RestoreProcessor.name);
  private worker: Worker | undefined;

  constructor(
    private readonly workers: WorkerFactory,
    private readonly store: StateStore,
    private readonly metrics: PersistenceMetrics,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(PERSISTENCE_CONFIG) private readonly config: PersistenceConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.worker = this.workers.create(
      QueueNames.restore,
      { [PersistenceJobDefs.restore.name]: (job) => this.handle(job.data, job.id) },
      this.logger,
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.close();
  }

  async handle(data: unknown, jobId?: string): Promise<RestoreResult> {
    const { sessionId } = parsePayload(PersistenceJobDefs.restore, data);
    const end = this.metrics.restoreDuration.startTimer();
    try {
      // Another pool's session is "not found" to an executor (requester.ts).
      const out = (await requesterMayAccess(this.store, jobId, sessionId))
        ? await this.store.restore(sessionId)
        : undefined;
      if (!out) {
        this.metrics.restores.inc({ outcome: Outcomes.notFound });
        return { found: false };
      }
      const bytes = encodeState(out.state, { compression: { codec: 'none' }, blobs: out.blobs });
      // Under the requesting executor's tag (its job id's): only that executor's user can take it.
      const state = await putTransfer(this.redis, bytes, {
        prefix: this.config.QUEUE_PREFIX,
        scope: tagOfJobId(jobId),
      });
      if (out.skipped.length) {
        this.metrics.integrityFailures.inc(out.skipped.length);
        this.logger.warn(
          `session ${sessionId}: restored version ${out.version} after skipping corrupted ${out.skipped.join(', ')}`,
        );
      }
      this.metrics.restores.inc({ outcome: out.skipped.length ? Outcomes.fallback : Outcomes.ok });
      end();
      return { found: true, version: out.version, state };
    } catch (err) {
      this.metrics.restores.inc({ outcome: Outcomes.error });
      throw err;
    }
  }
}
