import { Inject, Injectable } from '@nestjs/common';
import { CircuitBreakerRegistry, CircuitState } from '@executor/circuit-breaker';
import { getTemplate } from '@executor/templates';
import { InFlight } from '../core/in-flight';
import { ApiError } from '../http/api-error';
import type { Principal } from '../auth/keyring';
import { PoolStore, poolUnavailableReason, type PoolRegistration, type PoolView } from '../state/pool-view';
import { SessionStore } from '../state/session-store';

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

/** A pod as a tenant sees it: no session or load numbers (they are other tenants' too). */
export type TenantPodStats = Omit<PodStats, 'sessions' | 'assignedSessions' | 'running' | 'load'>;

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
    private readonly sessions: SessionStore,
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

  /** Every pool; with a tenant principal, `sessions`/`connections` count only its own sessions. */
  async list(who?: Principal): Promise<PoolStats[]> {
    const views = await this.store.view();
    const own = who?.role === 'tenant' ? await this.sessions.countByPool(who.name) : undefined;
    return views
      .map((v) => this.forPrincipal(this.stats(v), own))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async get(
    name: string,
    who?: Principal,
  ): Promise<PoolStats & { podDetails: Array<PodStats | TenantPodStats> }> {
    const [v] = await this.store.view({ pool: name });
    if (!v) throw new ApiError('not_found', `pool "${name}" not found`);
    if (who?.role === 'tenant') {
      const own = await this.sessions.countByPool(who.name);
      return { ...this.forPrincipal(this.stats(v), own), podDetails: v.pods.map(tenantPodStats) };
    }
    return { ...this.stats(v), podDetails: v.pods.map(podStats) };
  }

  private forPrincipal(stats: PoolStats, own: Map<string, number> | undefined): PoolStats {
    if (!own) return stats;
    const mine = own.get(stats.name) ?? 0;
    return { ...stats, sessions: mine, connections: mine };
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

function tenantPodStats(p: PoolView['pods'][number]): TenantPodStats {
  const { sessions: _s, assignedSessions: _a, running: _r, load: _l, ...rest } = podStats(p);
  return rest;
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
