import type Redis from 'ioredis';
import { DEFAULT_QUEUE_DEPTH_METRIC_NAME, QUEUE_DEPTH_POOL_LABEL } from '@executor/scaling';
import { readPoolDepth } from '../depth/pool-depth';
import { isApiStatus, type KubeClient, type KubeObject } from '../kube/kube-client';
import { Resources, collectionPath, objectPath } from '../kube/resources';
import { LABELS } from '../pools/names';
import { matchesLabels, pinnedValue, type Requirement } from './label-selector';

/** One item of an `ExternalMetricValueList` (external.metrics.k8s.io/v1beta1). */
export interface ExternalMetricValue {
  metricName: string;
  metricLabels: Record<string, string>;
  timestamp: string;
  value: string;
}

/** The External metrics this server serves (discovery lists them). */
export const SERVED_METRICS: readonly string[] = [DEFAULT_QUEUE_DEPTH_METRIC_NAME];

/**
 * `executor_pool_queue_depth` for the pools of a namespace whose labels `{pool: <name>}` match the
 * selector, read now from Redis (libs/queues' BullMQ keys, through the operator's one depth reader) —
 * no cache, no leader: any replica answers with the current depth. Pools are the namespace's
 * ExecutorPools (a selector that pins `pool` reads just that one); their pods are the Pods labelled
 * with the pool. Namespaces outside WATCH_NAMESPACE have no pools here.
 */
export class QueueDepthMetrics {
  constructor(
    private readonly client: KubeClient,
    private readonly redis: Redis,
    private readonly opts: { prefix: string; watchNamespace: string },
  ) {}

  async list(namespace: string, selector: readonly Requirement[]): Promise<ExternalMetricValue[]> {
    if (this.opts.watchNamespace && namespace !== this.opts.watchNamespace) return [];
    const pools = (await this.poolNames(namespace, selector)).filter((name) =>
      matchesLabels(selector, { [QUEUE_DEPTH_POOL_LABEL]: name }),
    );
    if (pools.length === 0) return [];
    const pods = await this.client.list<KubeObject>(collectionPath(Resources.pod, namespace), {
      labelSelector: pools.length === 1 ? `${LABELS.pool}=${pools[0]}` : LABELS.pool,
    });
    const podsOf = new Map<string, string[]>();
    for (const p of pods.items) {
      const pool = p.metadata.labels?.[LABELS.pool];
      if (!pool || p.metadata.deletionTimestamp) continue;
      podsOf.set(pool, [...(podsOf.get(pool) ?? []), p.metadata.name]);
    }
    const timestamp = new Date().toISOString();
    return Promise.all(
      pools.map(async (pool) => {
        const depth = await readPoolDepth(this.redis, this.opts.prefix, pool, podsOf.get(pool) ?? []);
        return {
          metricName: DEFAULT_QUEUE_DEPTH_METRIC_NAME,
          metricLabels: { [QUEUE_DEPTH_POOL_LABEL]: pool },
          timestamp,
          value: String(depth.total),
        };
      }),
    );
  }

  private async poolNames(namespace: string, selector: readonly Requirement[]): Promise<string[]> {
    const pinned = pinnedValue(selector, QUEUE_DEPTH_POOL_LABEL);
    if (pinned !== undefined) {
      if (!pinned) return [];
      const pool = await this.client
        .get<KubeObject>(objectPath(Resources.pool, namespace, pinned))
        .catch((err: unknown) => {
          if (isApiStatus(err, 404)) return undefined;
          throw err;
        });
      return pool ? [pool.metadata.name] : [];
    }
    const list = await this.client.list<KubeObject>(collectionPath(Resources.pool, namespace));
    return list.items.map((p) => p.metadata.name).sort();
  }
}
