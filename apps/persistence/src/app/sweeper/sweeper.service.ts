import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { PERSISTENCE_CONFIG, type PersistenceConfig } from '../config/config';
import { PersistenceMetrics } from '../metrics/persistence-metrics';
import { StateStore } from '../store/state-store';

/**
 * Periodically removes the state of sessions past expiresAt + GRACE_SECONDS (the `expiry`
 * ZSET), freeing blobs no other version references. Safe with several replicas: each
 * removal is one atomic script that re-checks the deadline (a `state.touch` wins).
 */
@Injectable()
export class SweeperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SweeperService.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<string[]> | undefined;

  constructor(
    private readonly store: StateStore,
    private readonly metrics: PersistenceMetrics,
    @Inject(PERSISTENCE_CONFIG) private readonly config: PersistenceConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(
      () => void this.sweep().catch((err: Error) => this.logger.error(`sweep failed: ${err.message}`)),
      this.config.SWEEP_INTERVAL_SECONDS * 1000,
    );
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One sweep (skipped when one is already running); returns the removed session ids. */
  async sweep(now = Date.now()): Promise<string[]> {
    if (this.running) return [];
    this.running = this.store.sweepExpired(now);
    try {
      const removed = await this.running;
      if (removed.length) {
        this.metrics.expired.inc(removed.length);
        this.logger.log(`removed the expired state of ${removed.length} session(s)`);
      }
      return removed;
    } finally {
      this.running = undefined;
    }
  }
}
