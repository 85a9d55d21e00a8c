import { Logger } from '@nestjs/common';
import { EventJobDefs, QueueNames, type JobRpcClient, type PoolRegistration } from '@executor/queues';
import type { ResolvedPool } from '@executor/crd';
import { OPERATOR_NAME } from '../pools/names';

/** The registration the load balancer keeps for a pool. */
export function poolRegistration(pool: ResolvedPool): PoolRegistration {
  return {
    name: pool.metadata.name,
    template: pool.spec.template,
    ...(pool.spec.region ? { region: pool.spec.region } : {}),
    weight: pool.spec.weight,
    ...(pool.metadata.namespace ? { namespace: pool.metadata.namespace } : {}),
    managedBy: OPERATOR_NAME,
  };
}

/**
 * Registers managed pools with the load balancer's registry (`pool.register` / `pool.deregister` on
 * QueueNames.poolRegistry). Sends a registration only when it changed since the last one sent by this
 * leader term (a new leader sends every pool once).
 */
export class PoolRegistrar {
  private readonly logger = new Logger(PoolRegistrar.name);
  private readonly sent = new Map<string, string>();

  constructor(private readonly rpc: JobRpcClient) {}

  async register(pool: ResolvedPool): Promise<void> {
    const reg = poolRegistration(pool);
    const json = JSON.stringify(reg);
    if (this.sent.get(reg.name) === json) return;
    await this.rpc.send(QueueNames.poolRegistry, EventJobDefs.poolRegister, reg);
    this.sent.set(reg.name, json);
    this.logger.log(
      `registered pool ${reg.name} (template ${reg.template}, weight ${reg.weight}, region ${reg.region ?? '-'})`,
    );
  }

  async deregister(name: string): Promise<void> {
    await this.rpc.send(QueueNames.poolRegistry, EventJobDefs.poolDeregister, { name });
    this.sent.delete(name);
    this.logger.log(`deregistered pool ${name}`);
  }

  /** Forgets what was sent (a new leader term re-sends everything). */
  reset(): void {
    this.sent.clear();
  }
}
