import { Inject, Injectable } from '@nestjs/common';
import type { Static } from '@sinclair/typebox';
import { CircuitBreakerRegistry } from '@executor/circuit-breaker';
import { JobCallError, podQueueName, type JobDef, type JobRpcClient } from '@executor/queues';
import { InFlight } from '../core/in-flight';
import { RPC } from '../core/tokens';
import { LbMetrics } from '../metrics/metrics.service';
import { SessionStore } from '../state/session-store';

/**
 * Every call to a pod goes through here: one shared JobRpcClient per replica, in-flight counting
 * per pool, and the pool's circuit breaker.
 * - `strict` (new sessions): an open circuit rejects with CircuitOpenError.
 * - otherwise (calls of existing, sticky sessions): never rejected by the breaker, but counted
 *   whenever the breaker would admit the call, so a failing pool still opens its circuit.
 * While a call waits, the pod's liveness is watched: a job the pod has not started is withdrawn
 * when the pod drains or dies (JobCallError.notStarted: the caller may send it elsewhere), and a
 * job running on a pod whose heartbeat lapsed fails at once instead of at its timeout.
 */
@Injectable()
export class PodGateway {
  constructor(
    @Inject(RPC) private readonly rpc: JobRpcClient,
    private readonly breakers: CircuitBreakerRegistry,
    @Inject(InFlight) private readonly inFlight: InFlight,
    private readonly metrics: LbMetrics,
    private readonly store: SessionStore,
  ) {}

  async call<D extends JobDef>(
    pool: string,
    pod: string,
    def: D,
    payload: Static<D['payload']>,
    opts: { timeoutMs: number; strict?: boolean },
  ): Promise<Static<D['result']>> {
    const breaker = this.breakers.get(pool);
    const run = (): Promise<Static<D['result']>> =>
      this.rpc.call(podQueueName(pod), def, payload, {
        timeoutMs: opts.timeoutMs,
        consumerHealth: () => this.store.podHealth(pod),
      });
    const started = performance.now();
    let outcome = 'ok';
    this.inFlight.inc(pool);
    try {
      return await (opts.strict || breaker.canExecute() ? breaker.execute(run) : run());
    } catch (err) {
      outcome = err instanceof JobCallError ? err.code : 'error';
      throw err;
    } finally {
      this.inFlight.dec(pool);
      this.metrics.podCall(def.name, outcome, (performance.now() - started) / 1000);
    }
  }
}
