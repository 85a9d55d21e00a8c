import { Global, Module } from '@nestjs/common';
import {
  PrometheusModule,
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
} from '@willsoto/nestjs-prometheus';
import type { Gauge } from 'prom-client';
import { PoolsService } from '../pools/pools.service';
import { PoolsModule } from '../pools/pools.module';
import { LbMetrics, MetricNames } from './metrics.service';

const CIRCUIT_VALUE: Record<string, number> = { closed: 0, 'half-open': 1, open: 2 };

type PoolGaugeField = 'sessions' | 'connections' | 'circuit' | 'healthy' | 'queueDepth' | 'pods';

/** A per-pool gauge filled from the pool stats on each scrape. */
function poolGauge(name: string, help: string, field: PoolGaugeField) {
  return makeGaugeProvider({
    name,
    help,
    labelNames: ['pool'],
    inject: [PoolsService],
    async collect(this: Gauge<'pool'>, pools: PoolsService): Promise<void> {
      this.reset();
      for (const p of await pools.list().catch(() => [])) {
        const v =
          field === 'circuit'
            ? (CIRCUIT_VALUE[p.circuit] ?? 0)
            : field === 'healthy'
              ? Number(p.healthy)
              : p[field];
        this.set({ pool: p.name }, v);
      }
    },
  });
}

/** `/metrics` (Prometheus text format) and the load balancer's metrics (global: LbMetrics is used everywhere). */
@Global()
@Module({
  imports: [PrometheusModule.register({ path: '/metrics', defaultMetrics: { enabled: true } }), PoolsModule],
  providers: [
    LbMetrics,
    makeCounterProvider({
      name: MetricNames.requests,
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'],
    }),
    makeHistogramProvider({
      name: MetricNames.latency,
      help: 'HTTP request latency by method and route (seconds)',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    }),
    makeCounterProvider({
      name: MetricNames.routing,
      help: 'Routing decisions for new sessions by reason',
      labelNames: ['reason'],
    }),
    makeCounterProvider({
      name: MetricNames.migrations,
      help: 'Session migrations by reason and outcome',
      labelNames: ['reason', 'outcome'],
    }),
    makeHistogramProvider({
      name: MetricNames.podCalls,
      help: 'Round trip of pod jobs by job name and outcome (seconds)',
      labelNames: ['job', 'outcome'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    }),
    poolGauge(MetricNames.poolSessions, 'Sessions assigned to the pool', 'sessions'),
    poolGauge(
      MetricNames.poolConnections,
      'Pool connections: sessions + in-flight requests of this replica',
      'connections',
    ),
    poolGauge(
      MetricNames.poolCircuit,
      'Pool circuit breaker state on this replica (0 closed, 1 half-open, 2 open)',
      'circuit',
    ),
    poolGauge(MetricNames.poolHealthy, '1 when the pool has a live pod with capacity', 'healthy'),
    poolGauge(MetricNames.poolQueueDepth, 'Waiting jobs on the pool pod queues', 'queueDepth'),
    poolGauge(MetricNames.poolPods, 'Live pods of the pool', 'pods'),
  ],
  exports: [LbMetrics],
})
export class LbMetricsModule {}
