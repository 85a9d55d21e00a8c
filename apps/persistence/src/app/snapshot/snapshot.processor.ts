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
  JobError,
  PersistenceJobDefs,
  QueueNames,
  parsePayload,
  takeTransfer,
  type SnapshotPayload,
  type SnapshotResult,
} from '@executor/queues';
import { decodeStateWithBlobs, validateEntries, type DecodedWithBlobs } from '@executor/session-state';
import { PERSISTENCE_CONFIG, type PersistenceConfig } from '../config/config';
import { Outcomes, PersistenceMetrics } from '../metrics/persistence-metrics';
import { REDIS } from '../redis/redis.tokens';
import { StateStore } from '../store/state-store';
import { WorkerFactory } from '../workers/worker-factory';

/** Slack for the encoded state's own overhead (header, metadata) over MAX_SNAPSHOT_BYTES. */
const ENCODING_SLACK_BYTES = 16 * 1024 * 1024;

/** Consumes `state.snapshot` jobs on QueueNames.snapshot. */
import { checkSnapshotRequester } from '../store/requester';

@Injectable()
export class SnapshotProcessor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(SnapshotProcessor.name);
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
      QueueNames.snapshot,
      { [PersistenceJobDefs.snapshot.name]: (job) => this.handle(job.data, job.id) },
      this.logger,
    );
  }

  /** Stops taking jobs and waits for the in-flight ones. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.close();
  }

  async handle(data: unknown, jobId?: string): Promise<SnapshotResult> {
    const payload = parsePayload(PersistenceJobDefs.snapshot, data);
    const end = this.metrics.snapshotDuration.startTimer({ trigger: payload.trigger });
    try {
      await checkSnapshotRequester(this.store, jobId, payload);
      const result = await this.snapshot(payload);
      end();
      this.metrics.snapshots.inc({ trigger: payload.trigger, outcome: Outcomes.ok });
      this.metrics.snapshotBytes.inc(result.storedBytes);
      return result;
    } catch (err) {
      const rejected = err instanceof JobError && err.code !== 'internal';
      this.metrics.snapshots.inc({
        trigger: payload.trigger,
        outcome: rejected ? Outcomes.rejected : Outcomes.error,
      });
      throw err;
    }
  }

  private async snapshot(payload: SnapshotPayload): Promise<SnapshotResult> {
    const max = this.config.MAX_SNAPSHOT_BYTES;
    if (payload.state.size > max + ENCODING_SLACK_BYTES) {
      await this.redis.del(payload.state.key);
      throw new JobError(
        'payload_too_large',
        `encoded snapshot of session ${payload.sessionId} is ${payload.state.size} bytes, more than MAX_SNAPSHOT_BYTES (${max})`,
      );
    }
    const { state, blobs } = this.decode(payload, await takeTransfer(this.redis, payload.state));
    return this.store.commitSnapshot({
      state,
      blobs,
      trigger: payload.trigger,
      pool: payload.pool,
      pod: payload.pod,
      template: payload.template,
      expiresAt: payload.expiresAt,
      baseVersion: payload.baseVersion,
    });
  }

  /** Decodes and checks the state; every problem is a non-retriable invalid_argument. */
  private decode(payload: SnapshotPayload, buf: Buffer): DecodedWithBlobs {
    let decoded: DecodedWithBlobs;
    try {
      decoded = decodeStateWithBlobs(buf);
      validateEntries(decoded.state.files);
    } catch (err) {
      throw new JobError(
        'invalid_argument',
        `snapshot of session ${payload.sessionId} is unusable: ${(err as Error).message}`,
      );
    }
    const { state } = decoded;
    if (state.sessionId !== payload.sessionId) {
      throw new JobError(
        'invalid_argument',
        `snapshot payload is for session ${payload.sessionId} but its state is for ${state.sessionId}`,
      );
    }
    if (state.persist === false) {
      throw new JobError(
        'invalid_argument',
        `session ${payload.sessionId} has persist: false; its state is never stored`,
      );
    }
    const declared = state.baseVersion ?? null;
    if (declared !== null && declared !== payload.baseVersion) {
      throw new JobError(
        'invalid_argument',
        `state says baseVersion ${declared} but the job says ${payload.baseVersion}`,
      );
    }
    return decoded;
  }
}
