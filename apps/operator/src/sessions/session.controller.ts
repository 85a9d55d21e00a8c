import { Logger } from '@nestjs/common';
import {
  API_VERSION,
  ConditionStatus,
  KIND_SESSION,
  MigrationReason,
  SessionConditionReason,
  SessionConditionType,
  SessionPhase,
  type SessionPhase as SessionPhaseT,
  TERMINAL_SESSION_PHASES,
  type Condition,
  type ExecutorSessionStatus,
  type Migration,
} from '@executor/crd';
import {
  EventJobDefs,
  PersistenceJobDefs,
  QueueNames,
  SessionEventTypes,
  readSessionExpiry,
  type PodEvent,
  type SessionEvent,
} from '@executor/queues';
import { TemporaryError } from '../kube/errors';
import { ignoreNotFound, isApiStatus, type KubeObject } from '../kube/kube-client';
import { objectKey, rfc3339, splitKey } from '../kube/objects';
import { Resources, objectPath } from '../kube/resources';
import { WorkQueue, type ReconcileResult } from '../kube/work-queue';
import { LABELS, OPERATOR_NAME } from '../pools/names';
import type { LeaderScope, PodObject, SessionObject } from '../runtime/shared';
import { SESSION_FINALIZER, sessionObjectName } from './session-names';

function condition(type: string, status: string, reason: string, message: string): Condition {
  return { type, status, reason, message, lastTransitionTime: rfc3339(new Date()) } as Condition;
}

/**
 * ExecutorSession lifecycle:
 * - `applyEvent`: the load balancer's session events create/update/delete the objects;
 * - reconcile: TTL expiry (phase Expired, then delete), and the finalizer that deletes persisted state
 *   through the persistence service before a persistent session's object goes;
 * - `onPodDeleted`: a deleted pool pod marks its sessions Migrating and tells the load balancer
 *   (`pod.deleted` on QueueNames.podEvents); `session.migrated` later records the move in status.migrations.
 */
export class SessionController {
  private readonly logger = new Logger(SessionController.name);
  readonly queue: WorkQueue;

  constructor(private readonly scope: LeaderScope) {
    const { cfg, metrics } = scope;
    this.queue = new WorkQueue(
      {
        name: 'session',
        concurrency: cfg.RECONCILE_CONCURRENCY,
        baseDelayMs: cfg.RETRY_BASE_MS,
        maxDelayMs: cfg.RETRY_MAX_MS,
        onDone: (result, ms) => {
          metrics.reconciles.inc({ controller: 'session', result });
          metrics.reconcileDuration.observe({ controller: 'session' }, ms / 1000);
        },
      },
      (key) => this.reconcile(key),
    );
    scope.informers.sessions.on((event, obj) => {
      if (event !== 'delete') this.queue.add(objectKey(obj));
    });
    scope.informers.pods.on((event, pod) => {
      if (event === 'delete') {
        this.onPodDeleted(pod).catch((err: Error) =>
          this.logger.error(`pod ${objectKey(pod)} deleted: ${err.message}`),
        );
      }
    });
  }

  // ------------------------------------------------------------------ reconcile (TTL, finalizer)

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const s = this.scope.informers.sessions.get(namespace, name);
    if (!s) return;
    if (s.metadata.deletionTimestamp) return this.finalize(s);
    const phase = s.status?.phase;
    if (phase && TERMINAL_SESSION_PHASES.includes(phase)) return this.remove(s);
    const expiresAt = this.expiresAt(s);
    const left = expiresAt - Date.now();
    if (left > 0) return { requeueAfterMs: left + 50 };
    // The load balancer moves a session's idle expiry on every use without an event (hot path):
    // its lease in Redis is the authority. Only a session it no longer extends expires here.
    const lease = await readSessionExpiry(this.scope.redis, s.spec.sessionId, this.scope.cfg.QUEUE_PREFIX);
    if (lease !== undefined && lease > Date.now()) {
      await this.patchStatus(s, { expiresAt: new Date(lease).toISOString() });
      return { requeueAfterMs: lease - Date.now() + 50 };
    }
    await this.patchStatus(s, {
      phase: SessionPhase.Expired,
      conditions: [
        condition(
          SessionConditionType.Ready,
          ConditionStatus.False,
          SessionConditionReason.TTLExpired,
          `idle TTL of ${s.spec.ttlSeconds ?? 300}s passed`,
        ),
      ],
    });
    this.logger.log(`session ${s.spec.sessionId} expired (TTL ${s.spec.ttlSeconds}s)`);
    return this.remove(s);
  }

  private expiresAt(s: SessionObject): number {
    const explicit = s.status?.expiresAt ? Date.parse(s.status.expiresAt) : NaN;
    if (!Number.isNaN(explicit)) return explicit;
    const created = Date.parse(s.metadata.creationTimestamp ?? '') || Date.now();
    return created + (s.spec.ttlSeconds ?? 300) * 1000;
  }

  private remove(s: SessionObject): Promise<void> {
    return this.deleteByName(s.metadata.namespace as string, s.metadata.name);
  }

  /** Deletes the persisted state (persistence service), then drops the finalizer. */
  private async finalize(s: SessionObject): Promise<void> {
    const finalizers = s.metadata.finalizers ?? [];
    if (!finalizers.includes(SESSION_FINALIZER)) return;
    if (s.spec.persist !== false) {
      try {
        await this.scope.rpc.call(
          QueueNames.persistenceAdmin,
          PersistenceJobDefs.delete,
          { sessionId: s.spec.sessionId },
          {
            timeoutMs: this.scope.cfg.PERSISTENCE_TIMEOUT_MS,
          },
        );
      } catch (err) {
        throw new TemporaryError(
          `deleting the state of session ${s.spec.sessionId}: ${(err as Error).message}`,
          undefined,
          { cause: err },
        );
      }
    }
    await this.scope.client
      .mergePatch(objectPath(Resources.session, s.metadata.namespace, s.metadata.name), {
        metadata: {
          resourceVersion: s.metadata.resourceVersion,
          finalizers: finalizers.filter((f) => f !== SESSION_FINALIZER),
        },
      })
      .catch((err: unknown) => {
        if (isApiStatus(err, 404)) return;
        if (isApiStatus(err, 409)) throw new TemporaryError('session changed while finalizing', 100);
        throw err;
      });
  }

  private async patchStatus(
    s: Pick<SessionObject, 'metadata'>,
    status: Partial<ExecutorSessionStatus>,
  ): Promise<void> {
    await this.scope.client.mergePatch(
      objectPath(Resources.session, s.metadata.namespace, s.metadata.name, 'status'),
      { status },
    );
  }

  // ------------------------------------------------------------------ events from the load balancer

  /** Applies one validated session event. Throws when the pool is unknown (the caller fails the job). */
  async applyEvent(ev: SessionEvent): Promise<void> {
    const pool = this.scope.informers.pools.list().find((p) => p.metadata.name === ev.pool);
    if (!pool) throw new UnknownPoolError(ev.pool);
    const namespace = pool.metadata.namespace as string;
    const name = sessionObjectName(ev.sessionId);
    switch (ev.type) {
      case SessionEventTypes.created:
        return this.upsert(pool, namespace, name, ev, SessionPhase.Active);
      case SessionEventTypes.migrated:
        return this.migrated(pool, namespace, name, ev);
      case SessionEventTypes.snapshotted:
        return this.patchExisting(namespace, name, {
          expiresAt: ev.expiresAt,
          ...(ev.lastSnapshotAt ? { lastSnapshotAt: ev.lastSnapshotAt } : {}),
          conditions: [
            condition(
              SessionConditionType.Persisted,
              ConditionStatus.True,
              SessionConditionReason.SnapshotStored,
              `snapshot at ${ev.lastSnapshotAt ?? ev.at}`,
            ),
          ],
        });
      case SessionEventTypes.expired:
        await this.patchExisting(namespace, name, { phase: SessionPhase.Expired });
        return this.deleteByName(namespace, name);
      case SessionEventTypes.deleted:
        await this.patchExisting(namespace, name, { phase: SessionPhase.Terminated });
        return this.deleteByName(namespace, name);
    }
  }

  private async upsert(
    pool: KubeObject,
    namespace: string,
    name: string,
    ev: SessionEvent,
    phase: SessionPhaseT,
  ): Promise<void> {
    const obj = {
      apiVersion: API_VERSION,
      kind: KIND_SESSION,
      metadata: {
        name,
        namespace,
        labels: { [LABELS.pool]: ev.pool, [LABELS.managedBy]: OPERATOR_NAME },
        ownerReferences: [
          {
            apiVersion: API_VERSION,
            kind: 'ExecutorPool',
            name: pool.metadata.name,
            uid: pool.metadata.uid as string,
            controller: true,
          },
        ],
        ...(ev.persist ? { finalizers: [SESSION_FINALIZER] } : {}),
      },
      spec: {
        sessionId: ev.sessionId,
        pool: ev.pool,
        tenant: ev.tenant,
        template: ev.template,
        pod: ev.pod,
        persist: ev.persist,
        ttlSeconds: ev.ttlSeconds,
      },
    };
    await this.scope.client.apply(objectPath(Resources.session, namespace, name), obj, OPERATOR_NAME);
    await this.patchStatus(obj, {
      phase,
      pod: ev.pod,
      expiresAt: ev.expiresAt,
      conditions: [
        condition(
          SessionConditionType.Ready,
          ConditionStatus.True,
          SessionConditionReason.Assigned,
          `on pod ${ev.pod}`,
        ),
      ],
    });
  }

  private async migrated(pool: KubeObject, namespace: string, name: string, ev: SessionEvent): Promise<void> {
    const path = objectPath(Resources.session, namespace, name);
    let current: SessionObject;
    try {
      current = await this.scope.client.get<SessionObject>(path);
    } catch (err) {
      if (!isApiStatus(err, 404)) throw err;
      return this.upsert(pool, namespace, name, ev, SessionPhase.Active); // created event lost: start from this one
    }
    const m = ev.migration ?? {
      from: current.status?.pod ?? current.spec.pod ?? 'unknown',
      to: ev.pod,
      at: ev.at,
      reason: MigrationReason.PodDeleted,
    };
    const migrations: Migration[] = [...(current.status?.migrations ?? [])];
    if (!migrations.some((x) => x.from === m.from && x.to === m.to && x.at === m.at)) migrations.push(m);
    // The resourceVersion makes the append safe against a concurrent status write (409 → retried).
    await this.scope.client.mergePatch(`${path}/status`, {
      metadata: { resourceVersion: current.metadata.resourceVersion },
      status: {
        phase: SessionPhase.Active,
        pod: m.to,
        expiresAt: ev.expiresAt,
        migrations,
        conditions: [
          condition(
            SessionConditionType.Ready,
            ConditionStatus.True,
            SessionConditionReason.Migrated,
            `migrated from ${m.from} to ${m.to} (${m.reason})`,
          ),
        ],
      },
    });
    await this.scope.client.mergePatch(path, { spec: { pod: m.to } });
  }

  private async patchExisting(
    namespace: string,
    name: string,
    status: Partial<ExecutorSessionStatus>,
  ): Promise<void> {
    await this.patchStatus({ metadata: { name, namespace } }, status).catch(ignoreNotFound);
  }

  private async deleteByName(namespace: string, name: string): Promise<void> {
    await this.scope.client.delete(objectPath(Resources.session, namespace, name)).catch(ignoreNotFound);
  }

  // ------------------------------------------------------------------ pod deletion → migration

  /** Marks the sessions of a deleted pool pod Migrating and emits `pod.deleted` for the load balancer. */
  async onPodDeleted(pod: PodObject): Promise<void> {
    const pool = pod.metadata.labels?.[LABELS.pool];
    const ns = pod.metadata.namespace;
    if (!pool || !ns) return;
    const podName = pod.metadata.name;
    const live = this.scope.informers.sessions
      .list()
      .filter(
        (s) =>
          s.metadata.namespace === ns &&
          s.spec.pool === pool &&
          (s.status?.pod ?? s.spec.pod) === podName &&
          !s.metadata.deletionTimestamp &&
          !TERMINAL_SESSION_PHASES.includes(s.status?.phase ?? 'Pending'),
      );
    for (const s of live) {
      await this.patchStatus(s, {
        phase: SessionPhase.Migrating,
        conditions: [
          condition(
            SessionConditionType.Ready,
            ConditionStatus.False,
            SessionConditionReason.PodLost,
            `pod ${podName} was deleted`,
          ),
        ],
      }).catch(ignoreNotFound);
    }
    const event: PodEvent = {
      type: 'pod.deleted',
      pool,
      pod: podName,
      reason: MigrationReason.PodDeleted,
      at: new Date().toISOString(),
    };
    // One event per pod incarnation, even if a re-list reports the deletion again.
    await this.scope.rpc.send(
      QueueNames.podEvents,
      EventJobDefs.podDeleted,
      event,
      `pod-deleted-${pod.metadata.uid ?? podName}`,
    );
    this.logger.log(`pod ${ns}/${podName} of pool ${pool} deleted: ${live.length} session(s) Migrating`);
  }
}

/** A session event names a pool this operator does not manage. */
export class UnknownPoolError extends Error {
  constructor(readonly pool: string) {
    super(
      `pool "${pool}" is not managed by this operator (no ExecutorPool of that name in the watched namespaces)`,
    );
    this.name = 'UnknownPoolError';
  }
}
