import { Inject, Injectable, Logger } from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import { JobError, bullConnection, publishReplies } from '@executor/queues';
import { PERSISTENCE_CONFIG, type PersistenceConfig } from '../config/config';
import { REDIS } from '../redis/redis.tokens';

export type JobHandler = (job: Job) => Promise<unknown>;

/**
 * Creates the service's BullMQ workers. Plain bullmq Workers wrapped in Nest providers
 * (not @nestjs/bullmq): concurrency comes from validated config at runtime, replies are
 * wired (`publishReplies`) before the first job can run, and shutdown order is explicit
 * (workers drain in-flight jobs before the Redis client closes).
 */
@Injectable()
export class WorkerFactory {
  constructor(
    @Inject(PERSISTENCE_CONFIG) private readonly config: PersistenceConfig,
    @Inject(REDIS) private readonly publisher: Redis,
  ) {}

  create(queue: string, handlers: Record<string, JobHandler>, logger: Logger): Worker {
    const worker = new Worker(
      queue,
      async (job: Job) => {
        const handler = handlers[job.name];
        if (!handler) throw new JobError('invalid_argument', `queue ${queue} has no job "${job.name}"`);
        return handler(job);
      },
      {
        connection: bullConnection(this.config.REDIS_URL),
        prefix: this.config.QUEUE_PREFIX,
        concurrency: this.config.CONCURRENCY,
        autorun: false,
      },
    );
    publishReplies(worker, this.publisher, this.config.QUEUE_PREFIX);
    worker.on('failed', (job, err) => {
      if (!(err instanceof JobError) || err.code === 'internal')
        logger.error(`job ${job?.name} ${job?.id} failed: ${err.message}`);
    });
    worker.on('error', (err) => logger.error(`worker ${queue}: ${err.message}`));
    void worker.run().catch((err: Error) => logger.error(`worker ${queue} stopped: ${err.message}`));
    return worker;
  }
}
