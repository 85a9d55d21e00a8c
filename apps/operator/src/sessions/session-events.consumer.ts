import { Logger } from '@nestjs/common';
import { Worker, type Job } from 'bullmq';
import {
  EventJobDefs,
  JobError,
  QueueNames,
  bullConnection,
  parsePayload,
  type SessionEventType,
} from '@executor/queues';
import type { OperatorConfig } from '../config/operator-config';
import { isTransient } from '../kube/kube-client';
import type { OperatorMetrics } from '../metrics/operator-metrics';
import { UnknownPoolError, type SessionController } from './session.controller';

const ATTEMPTS = 5;

/**
 * Consumes the load balancer's session events (QueueNames.sessionEvents). Payloads are validated with
 * parsePayload (invalid → JobError('invalid_argument'), an UnrecoverableError); an unknown pool →
 * JobError('not_found'); transient Kubernetes errors are retried in place with backoff, then the job fails.
 */
export class SessionEventsConsumer {
  private readonly logger = new Logger(SessionEventsConsumer.name);
  private worker: Worker | undefined;

  constructor(
    private readonly cfg: OperatorConfig,
    private readonly controller: SessionController,
    private readonly metrics: OperatorMetrics,
  ) {}

  async start(): Promise<void> {
    this.worker = new Worker(QueueNames.sessionEvents, (job) => this.process(job), {
      connection: bullConnection(this.cfg.REDIS_URL),
      prefix: this.cfg.QUEUE_PREFIX,
      concurrency: this.cfg.SESSION_EVENTS_CONCURRENCY,
    });
    this.worker.on('error', (err) => this.logger.warn(`worker: ${err.message}`));
    await this.worker.waitUntilReady();
  }

  async stop(): Promise<void> {
    await this.worker?.close();
    this.worker = undefined;
  }

  async process(job: Pick<Job, 'name' | 'data'>): Promise<Record<string, never>> {
    const def = EventJobDefs.sessionEvent[job.name as SessionEventType];
    if (!def) {
      this.metrics.sessionEvents.inc({ type: 'unknown', result: 'invalid' });
      throw new JobError('invalid_argument', `unknown session event "${job.name}"`);
    }
    let ev;
    try {
      ev = parsePayload(def, job.data);
    } catch (err) {
      this.metrics.sessionEvents.inc({ type: job.name, result: 'invalid' });
      throw err;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await this.controller.applyEvent(ev);
        this.metrics.sessionEvents.inc({ type: ev.type, result: 'ok' });
        return {};
      } catch (err) {
        if (err instanceof UnknownPoolError) {
          this.metrics.sessionEvents.inc({ type: ev.type, result: 'unknown_pool' });
          throw new JobError('not_found', err.message);
        }
        if (!isTransient(err) || attempt >= ATTEMPTS) {
          this.metrics.sessionEvents.inc({ type: ev.type, result: 'error' });
          throw err;
        }
        await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
      }
    }
  }
}
