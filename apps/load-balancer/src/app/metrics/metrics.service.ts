import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Histogram } from 'prom-client';

export const MetricNames = {
  requests: 'lb_http_requests_total',
  latency: 'lb_http_request_duration_seconds',
  routing: 'lb_routing_decisions_total',
  migrations: 'lb_session_migrations_total',
  podCalls: 'lb_pod_call_duration_seconds',
  poolSessions: 'lb_pool_sessions',
  poolConnections: 'lb_pool_connections',
  poolCircuit: 'lb_pool_circuit_state',
  poolHealthy: 'lb_pool_healthy',
  poolQueueDepth: 'lb_pool_queue_depth',
  poolPods: 'lb_pool_live_pods',
} as const;

/** Counters and histograms the request path updates (pool gauges are collected on scrape). */
@Injectable()
export class LbMetrics {
  constructor(
    @InjectMetric(MetricNames.requests) private readonly requests: Counter<'method' | 'route' | 'status'>,
    @InjectMetric(MetricNames.latency) private readonly latency: Histogram<'method' | 'route'>,
    @InjectMetric(MetricNames.routing) private readonly routing: Counter<'reason'>,
    @InjectMetric(MetricNames.migrations) private readonly migrations: Counter<'reason' | 'outcome'>,
    @InjectMetric(MetricNames.podCalls) private readonly podCalls: Histogram<'job' | 'outcome'>,
  ) {}

  request(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.latency.observe({ method, route }, seconds);
  }

  routingDecision(reason: string): void {
    this.routing.inc({ reason });
  }

  migration(reason: string, outcome: 'migrated' | 'failed'): void {
    this.migrations.inc({ reason, outcome });
  }

  podCall(job: string, outcome: string, seconds: number): void {
    this.podCalls.observe({ job, outcome }, seconds);
  }
}
