import { Logger } from '@nestjs/common';
import { isApiStatus, type KubeClient } from '../kube/kube-client';
import { objectPath, collectionPath, Resources } from '../kube/resources';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  /** Unique id of this replica (pod name). */
  identity: string;
  /** How long a lease is valid after its last renewal (written to the Lease). */
  leaseDurationSeconds: number;
  /** The leader gives up (stops acting) when it could not renew for this long; < lease duration. */
  renewDeadlineMs: number;
  /** Period of acquire/renew attempts. */
  retryPeriodMs: number;
  /** Release the Lease on stop so a successor takes over at once (default true; false = as after a crash). */
  releaseOnStop?: boolean;
}

export interface LeaderCallbacks {
  onStartedLeading: () => Promise<void>;
  onStoppedLeading: () => Promise<void>;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}
interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

/** `metav1.MicroTime` (RFC 3339 with microseconds). */
function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection:
 * - acquire when the Lease is missing, released (no holder), or has not changed for its
 *   leaseDurationSeconds as observed on *our* clock (no trust in the other replica's clock);
 * - every write carries the resourceVersion read, so two candidates never both win (409);
 * - the leader renews every retryPeriod and stops acting when it could not renew within
 *   renewDeadline (< leaseDuration: it stops before anyone else may take over);
 * - on stop, the leader releases the Lease so a successor takes over at once.
 */
export class LeaderElector {
  private readonly logger = new Logger(LeaderElector.name);
  private leading = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private lastRenew = 0;
  private observed: { record: string; at: number } | undefined;
  private tick: Promise<void> = Promise.resolve();
  private transition: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: KubeClient,
    private readonly opts: LeaderElectionOptions,
    private readonly callbacks: LeaderCallbacks,
  ) {
    if (opts.renewDeadlineMs >= opts.leaseDurationSeconds * 1000) {
      throw new Error('renew deadline must be shorter than the lease duration');
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops campaigning; a leader stops acting first, then releases the Lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.tick;
    if (this.leading) {
      this.setLeading(false);
      await this.transition;
      if (this.opts.releaseOnStop !== false)
        await this.release().catch((err: Error) =>
          this.logger.warn(`could not release the lease: ${err.message}`),
        );
    }
    await this.transition;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.tick = this.attempt().finally(() => this.schedule(this.opts.retryPeriodMs));
    }, ms);
  }

  private async attempt(): Promise<void> {
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (err) {
      this.logger.warn(`lease ${this.opts.namespace}/${this.opts.name}: ${(err as Error).message}`);
    }
    if (this.stopped) {
      // Acquired while stopping: give it back rather than leave a lease nobody renews.
      if (ok && !this.leading && this.opts.releaseOnStop !== false)
        await this.release().catch(() => undefined);
      return;
    }
    if (ok) {
      this.lastRenew = Date.now();
      if (!this.leading) this.setLeading(true);
    } else if (this.leading && Date.now() - this.lastRenew > this.opts.renewDeadlineMs) {
      this.logger.warn('could not renew the lease within the renew deadline: stepping down');
      this.setLeading(false);
    }
  }

  /**
   * Flips leadership; the callbacks run one after another on `transition` (renewals go on meanwhile).
   * If starting to lead fails (e.g. the API server went away), leadership is dropped locally and tried
   * again at the next successful renewal.
   */
  private setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.logger.log(`${this.opts.identity} ${leading ? 'became' : 'is no longer'} the leader`);
    this.transition = this.transition.then(async () => {
      try {
        await (leading ? this.callbacks.onStartedLeading() : this.callbacks.onStoppedLeading());
      } catch (err) {
        this.logger.error(`leadership callback failed: ${(err as Error).stack ?? String(err)}`);
        if (leading) this.leading = false;
      }
    });
  }

  private path(): string {
    return objectPath(Resources.lease, this.opts.namespace, this.opts.name);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    let lease: Lease;
    try {
      lease = await this.client.get<Lease>(this.path());
    } catch (err) {
      if (!isApiStatus(err, 404)) throw err;
      await this.client.create(collectionPath(Resources.lease, this.opts.namespace), {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.opts.name, namespace: this.opts.namespace },
        spec: {
          holderIdentity: this.opts.identity,
          leaseDurationSeconds: this.opts.leaseDurationSeconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      });
      return true;
    }
    const spec = lease.spec ?? {};
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseTransitions]);
    if (!this.observed || this.observed.record !== record) this.observed = { record, at: now.getTime() };
    const holder = spec.holderIdentity ?? '';
    const mine = holder === this.opts.identity;
    const duration = (spec.leaseDurationSeconds ?? this.opts.leaseDurationSeconds) * 1000;
    if (!mine && holder && now.getTime() - this.observed.at < duration) return false; // held by a live leader
    const next: Lease = {
      ...lease,
      spec: {
        holderIdentity: this.opts.identity,
        leaseDurationSeconds: this.opts.leaseDurationSeconds,
        acquireTime: mine ? spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      const written = await this.client.replace<Lease>(this.path(), next);
      const s = written.spec ?? {};
      this.observed = {
        record: JSON.stringify([s.holderIdentity, s.renewTime, s.leaseTransitions]),
        at: now.getTime(),
      };
      return true;
    } catch (err) {
      if (isApiStatus(err, 409)) return false; // someone else wrote first
      throw err;
    }
  }

  private async release(): Promise<void> {
    const lease = await this.client.get<Lease>(this.path());
    if (lease.spec?.holderIdentity !== this.opts.identity) return;
    await this.client.replace(this.path(), {
      ...lease,
      spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime() },
    });
  }
}
