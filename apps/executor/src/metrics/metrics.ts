import { Injectable } from '@nestjs/common';
import type { Provider } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import {
  Counter,
  Gauge,
  Histogram,
  register,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';

export const MetricNames = {
  executions: 'executor_executions_total',
  duration: 'executor_execution_duration_seconds',
  sessions: 'executor_active_sessions',
  running: 'executor_running_executions',
  kernelRestarts: 'executor_kernel_restarts_total',
  snapshotDuration: 'executor_snapshot_duration_seconds',
  snapshotFailures: 'executor_snapshot_failures_total',
  warmKernels: 'executor_warm_kernels',
} as const;

/** Outcome label of an execution. */
export const ExecutionOutcomes = { ok: 'ok', error: 'error', timeout: 'timeout', killed: 'killed' } as const;
export type ExecutionOutcome = (typeof ExecutionOutcomes)[keyof typeof ExecutionOutcomes];

/** Token @InjectMetric(name) resolves (same scheme as @willsoto/nestjs-prometheus's make*Provider). */
function token(name: string): string {
  return `PROM_METRIC_${name.toUpperCase()}`;
}

/**
 * Like make*Provider, but reuses a metric already in the default registry: several executor
 * apps in one process (tests) share the registry instead of failing with "already registered".
 */
function counter(cfg: CounterConfiguration<string>): Provider {
  return {
    provide: token(cfg.name),
    useFactory: () => register.getSingleMetric(cfg.name) ?? new Counter(cfg),
  };
}
function gauge(cfg: GaugeConfiguration<string>): Provider {
  return { provide: token(cfg.name), useFactory: () => register.getSingleMetric(cfg.name) ?? new Gauge(cfg) };
}
function histogram(cfg: HistogramConfiguration<string>): Provider {
  return {
    provide: token(cfg.name),
    useFactory: () => register.getSingleMetric(cfg.name) ?? new Histogram(cfg),
  };
}
const makeCounterProvider = counter;
const makeGaugeProvider = gauge;
const makeHistogramProvider = histogram;

/** True once the process-wide default metrics are registered (the first app collects them). */
export function defaultMetricsRegistered(): boolean {
  return register.getSingleMetric('process_cpu_user_seconds_total') !== undefined;
}

export const metricProviders = [
  makeCounterProvider({
    name: MetricNames.executions,
    help: 'Executions by template and outcome',
    labelNames: ['template', 'outcome'],
  }),
  makeHistogramProvider({
    name: MetricNames.duration,
    help: 'Execution duration (seconds)',
    labelNames: ['template'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  }),
  makeGaugeProvider({ name: MetricNames.sessions, help: 'Sessions held by this pod' }),
  makeGaugeProvider({ name: MetricNames.running, help: 'Executions running now' }),
  makeCounterProvider({
    name: MetricNames.kernelRestarts,
    help: 'Kernels restarted after dying (timeout, crash, OOM)',
    labelNames: ['template'],
  }),
  makeHistogramProvider({
    name: MetricNames.snapshotDuration,
    help: 'Snapshot duration, capture to stored (seconds)',
    labelNames: ['trigger'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  }),
  makeCounterProvider({
    name: MetricNames.snapshotFailures,
    help: 'Snapshots that failed',
    labelNames: ['trigger'],
  }),
  makeGaugeProvider({ name: MetricNames.warmKernels, help: 'Pre-started kernels waiting for a session' }),
];

/** The executor's Prometheus metrics. */
@Injectable()
export class ExecutorMetrics {
  constructor(
    @InjectMetric(MetricNames.executions) readonly executions: Counter<string>,
    @InjectMetric(MetricNames.duration) readonly duration: Histogram<string>,
    @InjectMetric(MetricNames.sessions) readonly sessions: Gauge<string>,
    @InjectMetric(MetricNames.running) readonly running: Gauge<string>,
    @InjectMetric(MetricNames.kernelRestarts) readonly kernelRestarts: Counter<string>,
    @InjectMetric(MetricNames.snapshotDuration) readonly snapshotDuration: Histogram<string>,
    @InjectMetric(MetricNames.snapshotFailures) readonly snapshotFailures: Counter<string>,
    @InjectMetric(MetricNames.warmKernels) readonly warmKernels: Gauge<string>,
  ) {}
}
