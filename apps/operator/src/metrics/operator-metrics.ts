import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The operator's Prometheus metrics, on a registry of its own (two operators in one process —
 * the leader-election test — do not share series).
 */
export class OperatorMetrics {
  readonly registry = new Registry();

  readonly reconciles = new Counter({
    name: 'operator_reconcile_total',
    help: 'Reconciles by controller and result (success, temporary_error, permanent_error, error).',
    labelNames: ['controller', 'result'] as const,
    registers: [this.registry],
  });

  readonly reconcileDuration = new Histogram({
    name: 'operator_reconcile_duration_seconds',
    help: 'Duration of reconciles by controller.',
    labelNames: ['controller'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly watchRestarts = new Counter({
    name: 'operator_watch_restarts_total',
    help: 'Watch restarts by resource and reason (closed, gone = 410 re-list, error = backoff, resync).',
    labelNames: ['resource', 'reason'] as const,
    registers: [this.registry],
  });

  readonly leader = new Gauge({
    name: 'operator_leader',
    help: '1 while this replica holds the lease and acts.',
    registers: [this.registry],
  });

  readonly sessionEvents = new Counter({
    name: 'operator_session_events_total',
    help: 'Session events consumed, by type and result.',
    labelNames: ['type', 'result'] as const,
    registers: [this.registry],
  });

  /** External metric for the HPA (prometheus-adapter): jobs waiting over the pool's pods. */
  readonly poolQueueDepth = new Gauge({
    name: 'executor_pool_queue_depth',
    help: 'Jobs waiting (waiting + prioritized + delayed) over all pod queues of the pool.',
    labelNames: ['pool'] as const,
    registers: [this.registry],
  });

  readonly podQueueDepth = new Gauge({
    name: 'executor_pod_queue_depth',
    help: 'Jobs waiting (waiting + prioritized + delayed) on one pod queue.',
    labelNames: ['pool', 'pod'] as const,
    registers: [this.registry],
  });

  readonly externalMetricsRequests = new Counter({
    name: 'operator_external_metrics_requests_total',
    help: 'Requests to the External metrics API (external.metrics.k8s.io) by HTTP status code.',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  constructor(defaultMetrics = true) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
