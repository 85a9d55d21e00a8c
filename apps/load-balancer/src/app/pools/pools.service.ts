import { Inject, Injectable } from '@nestjs/common';
import { CircuitBreakerRegistry, CircuitState } from '@executor/circuit-breaker';
import { getTemplate } from '@executor/templates';
import { InFlight } from '../core/in-flight';
import { ApiError } from '../http/api-error';
import { PoolStore, poolUnavailableReason, type PoolRegistration, type PoolView } from '../state/pool-view';

/** A pool as GET /v1/pools shows it. */
export interface PoolStats {
  name: string;
  template: string;
  region: string;
  weight: number;
  /** A pod of the pool takes new sessions now. */
  healthy: boolean;
  /** Why the pool takes no new session (only when `healthy` is false). */
  reason?: string;
  circuit: CircuitState;
  pods: number;
  sessions: number;
  /** sessions + in-flight requests of this replica (the load of weighted least-connections). */
  connections: number;
  queueDepth: number;
  registeredAt: string;
  managedBy?: string;
}

export interface PodStats {
  name: string;
  region?: string;
  capacity: number;
  sessions: number;
  assignedSessions: number;
  running: number;
  load: number;
  accepting: boolean;
  /** The pod's sandbox and template work (its boot smoke test passed). */
  healthy: boolean;
  /** Why the pod is not healthy (only when `healthy` is false). */
  reason?: string;
  queueDepth: number;
  queue: string;
  version: string;
  startedAt: string;
  lastHeartbeat: string;
}

@Injectable()
export class PoolsService {
  constructor(
    private readonly store: PoolStore,
    private readonly breakers: CircuitBreakerRegistry,
    @Inject(InFlight) private readonly inFlight: InFlight,
  ) {}

  /** Registers a pool (HTTP or the operator's queue). Unknown template → 400; other template under that name → 409. */
  async register(reg: PoolRegistration): Promise<PoolStats> {
    try {
      getTemplate(reg.template);
    } catch {
      throw new ApiError('invalid_argument', `template: unknown template "${reg.template}"`);
    }
    const r = await this.store.register(reg);
    if (r === 'conflict')
      throw new ApiError(
        'conflict',
        `pool "${reg.name}" is registered with another template; deregister it first`,
      );
    return this.get(reg.name);
  }

  async deregister(name: string): Promise<void> {
    if (!(await this.store.deregister(name))) throw new ApiError('not_found', `pool "${name}" not found`);
  }

  async list(): Promise<PoolStats[]> {
    const views = await this.store.view();
    return views.map((v) => this.stats(v)).sort((a, b) => a.name.localeCompare(b.name));
  }

  async get(name: string): Promise<PoolStats & { podDetails: PodStats[] }> {
    const [v] = await this.store.view({ pool: name });
    if (!v) throw new ApiError('not_found', `pool "${name}" not found`);
    return { ...this.stats(v), podDetails: v.pods.map(podStats) };
  }

  circuitOf(pool: string): CircuitState {
    return this.breakers.has(pool) ? this.breakers.get(pool).state : CircuitState.Closed;
  }

  stats(v: PoolView): PoolStats {
    const reason = poolUnavailableReason(v);
    return {
      name: v.name,
      template: v.template,
      region: v.region,
      weight: v.weight,
      healthy: reason === undefined,
      ...(reason !== undefined ? { reason } : {}),
      circuit: this.circuitOf(v.name),
      pods: v.pods.length,
      sessions: v.sessions,
      connections: v.sessions + this.inFlight.get(v.name),
      queueDepth: v.queueDepth,
      registeredAt: v.registeredAt,
      ...(v.managedBy ? { managedBy: v.managedBy } : {}),
    };
  }
}

function podStats(p: PoolView['pods'][number]): PodStats {
  const hb = p.heartbeat;
  return {
    name: hb.pod,
    ...(hb.region ? { region: hb.region } : {}),
    capacity: hb.capacity,
    sessions: p.sessions,
    assignedSessions: p.assigned,
    running: hb.running,
    load: hb.load,
    accepting: hb.accepting,
    healthy: hb.healthy !== false,
    ...(hb.healthy === false ? { reason: hb.reason ?? 'no reason given' } : {}),
    queueDepth: p.queueDepth,
    queue: hb.queue,
    version: hb.version,
    startedAt: hb.startedAt,
    lastHeartbeat: hb.at,
  };
}
