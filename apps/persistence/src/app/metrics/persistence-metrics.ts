import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, register, type Metric } from 'prom-client';
import { StateStore } from '../store/state-store';

/** Outcomes of snapshot/restore jobs (metric label values). */
export const Outcomes = {
  ok: 'ok',
  notFound: 'not_found',
  fallback: 'fallback',
  rejected: 'rejected',
  error: 'error',
} as const;
export type Outcome = (typeof Outcomes)[keyof typeof Outcomes];

function fresh<T extends Metric>(name: string, make: () => T): T {
  register.removeSingleMetric(name); // one registry per process; a second app instance (tests) replaces them
  return make();
}

/**
 * The service's Prometheus metrics (served at /metrics by @willsoto/nestjs-prometheus from the
 * default prom-client registry). Byte gauges read the store's counters at scrape time, so
 * `persistence_logical_bytes / persistence_physical_bytes` is the dedup+compression ratio.
 */
@Injectable()
export class PersistenceMetrics {
  readonly snapshots = fresh(
    'persistence_snapshots_total',
    () =>
      new Counter({
        name: 'persistence_snapshots_total',
        help: 'Snapshot jobs by trigger and outcome (ok, rejected, error).',
        labelNames: ['trigger', 'outcome'],
      }),
  );
  readonly restores = fresh(
    'persistence_restores_total',
    () =>
      new Counter({
        name: 'persistence_restores_total',
        help: 'Restore jobs by outcome (ok, fallback = an older version was returned, not_found, error).',
        labelNames: ['outcome'],
      }),
  );
  readonly integrityFailures = fresh(
    'persistence_integrity_failures_total',
    () =>
      new Counter({
        name: 'persistence_integrity_failures_total',
        help: 'Stored versions that failed their integrity check on restore (and were skipped).',
      }),
  );
  readonly expired = fresh(
    'persistence_expired_sessions_total',
    () =>
      new Counter({
        name: 'persistence_expired_sessions_total',
        help: 'Sessions whose state was removed by the expiry sweeper.',
      }),
  );
  readonly snapshotDuration = fresh(
    'persistence_snapshot_duration_seconds',
    () =>
      new Histogram({
        name: 'persistence_snapshot_duration_seconds',
        help: 'Time to store a snapshot (decode, hash check, compress, upload, commit).',
        labelNames: ['trigger'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      }),
  );
  readonly restoreDuration = fresh(
    'persistence_restore_duration_seconds',
    () =>
      new Histogram({
        name: 'persistence_restore_duration_seconds',
        help: 'Time to restore a session state (read, verify, encode, hand off).',
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      }),
  );
  readonly snapshotBytes = fresh(
    'persistence_snapshot_stored_bytes_total',
    () =>
      new Counter({
        name: 'persistence_snapshot_stored_bytes_total',
        help: 'Physical bytes newly written by snapshots (new blobs + manifests).',
      }),
  );

  constructor(store: StateStore) {
    const gauge = (
      name: string,
      help: string,
      pick: (s: Awaited<ReturnType<StateStore['stats']>>) => number,
    ): Gauge =>
      fresh(
        name,
        () =>
          new Gauge({
            name,
            help,
            async collect(): Promise<void> {
              this.set(pick(await store.stats()));
            },
          }),
      );
    gauge(
      'persistence_logical_bytes',
      'Logical bytes of every kept version (sum of file sizes).',
      (s) => s.logicalBytes,
    );
    gauge(
      'persistence_physical_bytes',
      'Bytes stored in Redis: compressed, deduplicated blobs plus manifests.',
      (s) => s.physicalBytes,
    );
    gauge('persistence_blobs', 'Content-addressed blobs stored.', (s) => s.blobs);
    gauge('persistence_sessions', 'Sessions with stored state.', (s) => s.sessions);
    gauge('persistence_versions', 'Versions stored (all sessions).', (s) => s.versions);
  }
}
