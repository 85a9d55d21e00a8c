import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  EventJobDefs,
  QueueNames,
  SessionEventTypes,
  type JobRpcClient,
  type SessionEvent,
  type SessionEventType,
} from '@executor/queues';
import { RPC } from '../core/tokens';
import type { Migration, SessionRecord } from '../state/session-store';

/**
 * Session lifecycle events for the operator (ExecutorSession resources). The request path waits
 * only for Redis to accept the job (so an acknowledged change is never lost with this replica),
 * never for the operator; a failed enqueue is logged, not returned to the client.
 */
@Injectable()
export class SessionEventsService {
  private readonly logger = new Logger(SessionEventsService.name);

  constructor(@Inject(RPC) private readonly rpc: JobRpcClient) {}

  async emit(type: SessionEventType, s: SessionRecord, migration?: Migration): Promise<void> {
    const event: SessionEvent = {
      type,
      sessionId: s.id,
      tenant: s.tenant,
      pool: s.pool,
      pod: s.pod,
      template: s.template,
      persist: s.persist,
      ttlSeconds: s.ttlSeconds,
      expiresAt: new Date(s.expiresAt).toISOString(),
      at: new Date().toISOString(),
      ...(migration ? { migration } : {}),
      ...(s.lastSnapshotAt ? { lastSnapshotAt: s.lastSnapshotAt } : {}),
    };
    await this.rpc
      .send(QueueNames.sessionEvents, EventJobDefs.sessionEvent[type], event)
      .catch((err: Error) => {
        this.logger.warn(`could not enqueue ${type} for ${s.id}: ${err.message}`);
      });
  }

  created(s: SessionRecord): Promise<void> {
    return this.emit(SessionEventTypes.created, s);
  }
  migrated(s: SessionRecord, m: Migration): Promise<void> {
    return this.emit(SessionEventTypes.migrated, s, m);
  }
  expired(s: SessionRecord): Promise<void> {
    return this.emit(SessionEventTypes.expired, s);
  }
  deleted(s: SessionRecord): Promise<void> {
    return this.emit(SessionEventTypes.deleted, s);
  }
}
