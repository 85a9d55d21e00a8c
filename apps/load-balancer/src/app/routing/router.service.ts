import { Inject, Injectable } from '@nestjs/common';
import { CircuitBreakerRegistry } from '@executor/circuit-breaker';
import { podTakesSessions, type PodHeartbeat } from '@executor/queues';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { InFlight } from '../core/in-flight';
import { ApiError, DEFAULT_RETRY_AFTER_SECONDS } from '../http/api-error';
import { LbMetrics } from '../metrics/metrics.service';
import { PoolStore, poolUnavailableReason, type PodView, type PoolView } from '../state/pool-view';
import {
  filterByRegion,
  pickPod,
  pickWeightedLeastConnections,
  type PoolCandidate,
  type Rng,
} from './picker';

/** Where a new session goes. */
export interface Placement {
  pool: PoolView;
  pod: PodHeartbeat;
  reason: string;
}

/** Routing-decision label when no pool could take a session. */
export const NO_CAPACITY_REASON = 'no_capacity';

/**
 * Chooses pool and pod for a new session: pools serving the template → registered → healthy
 * (a live, accepting pod with capacity) → circuit not open → preferred region → weighted
 * least-connections (connections = the pool's sessions + this replica's in-flight requests to it)
 * → the pod with the fewest sessions.
 */
@Injectable()
export class RouterService {
  rng: Rng = Math.random;

  constructor(
    private readonly pools: PoolStore,
    private readonly breakers: CircuitBreakerRegistry,
    @Inject(InFlight) private readonly inFlight: InFlight,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
    private readonly metrics: LbMetrics,
  ) {}

  async place(
    template: string,
    region: string | undefined,
    exclude: ReadonlySet<string> = new Set(),
  ): Promise<Placement> {
    const views = (await this.pools.view({ template, withDepth: false })).filter((v) => !exclude.has(v.name));
    if (views.length === 0) throw this.noCapacity(`no pool is registered for template "${template}"`);
    const healthy = views
      .map((v) => ({ view: v, pods: v.pods.filter((p) => p.hasCapacity) }))
      .filter((c) => c.pods.length > 0);
    if (healthy.length === 0) {
      const why = views.map((v) => `pool ${v.name}: ${poolUnavailableReason(v) ?? 'unavailable'}`);
      throw this.noCapacity(
        `no healthy pod with free capacity for template "${template}" (${why.join('; ')})`,
      );
    }
    const allowed = healthy.filter((c) => this.breakers.get(c.view.name).canExecute());
    if (allowed.length === 0) {
      const wait = Math.min(...healthy.map((c) => this.breakers.get(c.view.name).retryAfterMs()));
      throw this.noCapacity(
        `every pool for template "${template}" has an open circuit`,
        Math.max(1, Math.ceil(wait / 1000)),
      );
    }
    const candidates: (PoolCandidate & { pods: PodView[]; view: PoolView })[] = allowed.map((c) => ({
      name: c.view.name,
      region: c.view.region,
      weight: c.view.weight,
      connections: c.view.sessions + this.inFlight.get(c.view.name),
      pods: c.pods,
      view: c.view,
    }));
    const { pools, reason } = filterByRegion(
      candidates,
      region || this.config.DEFAULT_REGION || undefined,
      this.config.regionDistances,
    );
    const chosen = pickWeightedLeastConnections(pools, this.rng);
    const pod =
      chosen &&
      pickPod(
        chosen.pods.map((p) => ({
          ...p,
          pod: p.heartbeat.pod,
          capacity: p.heartbeat.capacity,
          accepting: podTakesSessions(p.heartbeat),
        })),
        this.rng,
      );
    if (!chosen || !pod) throw this.noCapacity(`no pod with free capacity for template "${template}"`);
    this.metrics.routingDecision(reason);
    return { pool: chosen.view, pod: pod.heartbeat, reason };
  }

  /** A live pod with capacity in `pool` other than `exclude` (migration target), or undefined. */
  async podInPool(pool: string, exclude: string): Promise<PodHeartbeat | undefined> {
    const [view] = await this.pools.view({ pool, withDepth: false });
    const pods = (view?.pods ?? []).filter((p) => p.heartbeat.pod !== exclude);
    return pickPod(
      pods.map((p) => ({
        ...p,
        pod: p.heartbeat.pod,
        capacity: p.heartbeat.capacity,
        accepting: podTakesSessions(p.heartbeat),
      })),
      this.rng,
    )?.heartbeat;
  }

  private noCapacity(message: string, retryAfterSeconds = DEFAULT_RETRY_AFTER_SECONDS): ApiError {
    this.metrics.routingDecision(NO_CAPACITY_REASON);
    return new ApiError('unavailable', message, retryAfterSeconds);
  }
}
