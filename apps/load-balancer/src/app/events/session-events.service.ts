import { Inject, Injectable, Logger } from '@nestjs/common';
import { EventJobDefs, QueueNames, SessionEventTypes, type JobRpcClient, type SessionEvent, type SessionEventType } from '@executor/queues';
import { RPC } from '../core/tokens';
import type { Migration, SessionRecord } from '../state/session-store';

/**
 * Session lifecycle events for the operator (ExecutorSession resources). Fire-and-forget: the
 * request path never waits on the operator; a failed enqueue is logged.
 */
@Injectable()
export class SessionEventsService {
  private readonly logger = new Logger(SessionEventsService.name);

  constructor(@Inject(RPC) private readonly rpc: JobRpcClient) {}

  emit(type: SessionEventType, s: SessionRecord, migration?: Migration): void {
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
    this.rpc.send(QueueNames.sessionEvents, EventJobDefs.sessionEvent[type], event).catch((err: Error) => {
      this.logger.warn(`could not enqueue ${type} for ${s.id}: ${err.message}`);
    });
  }

  created(s: SessionRecord): void {
    this.emit(SessionEventTypes.created, s);
  }
  migrated(s: SessionRecord, m: Migration): void {
    this.emit(SessionEventTypes.migrated, s, m);
  }
  expired(s: SessionRecord): void {
    this.emit(SessionEventTypes.expired, s);
  }
  deleted(s: SessionRecord): void {
    this.emit(SessionEventTypes.deleted, s);
  }
}
