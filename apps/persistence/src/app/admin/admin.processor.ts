import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Worker } from 'bullmq';
import { PersistenceJobDefs, QueueNames, parsePayload, type PodSessionsResult } from '@executor/queues';
import { StateStore } from '../store/state-store';
import { WorkerFactory } from '../workers/worker-factory';

/** Consumes `state.delete`, `index.pod-sessions` and `state.touch` on QueueNames.persistenceAdmin. */
import { requesterMayAccess } from '../store/requester';

@Injectable()
export class AdminProcessor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(AdminProcessor.name);
  private worker: Worker | undefined;

  constructor(
    private readonly workers: WorkerFactory,
    private readonly store: StateStore,
  ) {}

  onApplicationBootstrap(): void {
    this.worker = this.workers.create(
      QueueNames.persistenceAdmin,
      {
        [PersistenceJobDefs.delete.name]: (job) => this.delete(job.data, job.id),
        [PersistenceJobDefs.podSessions.name]: (job) => this.podSessions(job.data),
        [PersistenceJobDefs.touch.name]: (job) => this.touch(job.data),
      },
      this.logger,
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.close();
  }

  async delete(data: unknown, jobId?: string): Promise<{ deleted: boolean }> {
    const { sessionId } = parsePayload(PersistenceJobDefs.delete, data);
    if (!(await requesterMayAccess(this.store, jobId, sessionId))) return { deleted: false };
    return { deleted: await this.store.delete(sessionId) };
  }

  async podSessions(data: unknown): Promise<PodSessionsResult> {
    const { pod } = parsePayload(PersistenceJobDefs.podSessions, data);
    return { sessionIds: await this.store.podSessions(pod) };
  }

  async touch(data: unknown): Promise<{ found: boolean }> {
    const { sessionId, expiresAt } = parsePayload(PersistenceJobDefs.touch, data);
    return { found: await this.store.touch(sessionId, expiresAt) };
  }
}
