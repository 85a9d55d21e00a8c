/**
 * The seed's numbers (FEATURES2-4-SUMMARY.md, "Scaling Logic"), verbatim:
 *   scale up:   CPU > 70% OR queue depth > 10 per pod; +100% every 15 s; 60 s stabilization
 *   scale down: CPU < 30% AND queue depth < 5 (per pod); −10% every 60 s; 300 s stabilization
 */
export const SEED_TARGET_CPU_UTILIZATION_PERCENTAGE = 70;
export const SEED_QUEUE_DEPTH_SCALE_UP_PER_POD = 10;
export const SEED_SCALE_UP_PERCENT = 100;
export const SEED_SCALE_UP_PERIOD_SECONDS = 15;
export const SEED_SCALE_UP_STABILIZATION_WINDOW_SECONDS = 60;
export const SEED_SCALE_DOWN_CPU_UTILIZATION_PERCENTAGE = 30;
export const SEED_QUEUE_DEPTH_SCALE_DOWN_PER_POD = 5;
export const SEED_SCALE_DOWN_PERCENT = 10;
export const SEED_SCALE_DOWN_PERIOD_SECONDS = 60;
export const SEED_SCALE_DOWN_STABILIZATION_WINDOW_SECONDS = 300;

/** kube-controller-manager defaults (`--horizontal-pod-autoscaler-tolerance`, `--horizontal-pod-autoscaler-sync-period`). */
export const HPA_DEFAULT_TOLERANCE = 0.1;
export const HPA_DEFAULT_SYNC_PERIOD_SECONDS = 15;

/**
 * Name of the External metric of a pool's queue depth: the operator's own External metrics API
 * (apps/operator/src/external-metrics), its Prometheus gauge and the prometheus-adapter rules all
 * serve it under this name, one series per pool labelled {@link QUEUE_DEPTH_POOL_LABEL}`=<pool>`.
 */
export const DEFAULT_QUEUE_DEPTH_METRIC_NAME = 'executor_pool_queue_depth';

/** Label of the queue-depth series naming the pool (the HPA's External metric selector `pool=<name>`). */
export const QUEUE_DEPTH_POOL_LABEL = 'pool';

/** The metrics a pool can scale on: CPU (Resource, needs metrics.k8s.io) and queue depth (External). */
export const ScalingMetric = { Cpu: 'cpu', QueueDepth: 'queueDepth' } as const;
export type ScalingMetric = (typeof ScalingMetric)[keyof typeof ScalingMetric];
/** Default: both (the seed's "CPU > 70 % OR queue depth > 10 per pod"). */
export const DEFAULT_SCALING_METRICS: readonly ScalingMetric[] = [
  ScalingMetric.Cpu,
  ScalingMetric.QueueDepth,
];

/** The label selector of a pool's queue-depth series (HPA `metric.selector.matchLabels`). */
export function queueDepthSelector(pool: string): Record<string, string> {
  return { [QUEUE_DEPTH_POOL_LABEL]: pool };
}
