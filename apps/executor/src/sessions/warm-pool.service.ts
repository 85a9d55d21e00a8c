import { Inject, Injectable, Logger } from '@nestjs/common';
import type { KernelProcess } from '../kernels/kernel-process';
import type { Slot } from '../sandbox/sandbox';
import { KernelRuntime, type RuntimeDeps } from '../runner/runtime';
import { SandboxService } from '../sandbox/sandbox.service';
import { EXECUTOR_CONFIG, type ExecutorConfig } from '../config/executor.config';
import { ExecutorMetrics } from '../metrics/metrics';

export interface WarmKernel {
  slot: Slot;
  kernel: KernelProcess;
}

/**
 * Pre-started kernels (WARM_KERNELS) of this pod's template, each in its own slot, so a new
 * session's first execution does not pay the interpreter's start. Refilled one at a time in the
 * background after each take.
 */
@Injectable()
export class WarmPoolService {
  private readonly logger = new Logger(WarmPoolService.name);
  private readonly ready: WarmKernel[] = [];
  private filling = 0;
  private stopped = false;
  private deps?: RuntimeDeps;
  /** The kernel being started now (awaited by stop, so its slot is released before exit). */
  private inFlight?: Promise<void>;

  constructor(
    @Inject(EXECUTOR_CONFIG) private readonly cfg: ExecutorConfig,
    private readonly sandbox: SandboxService,
    private readonly metrics: ExecutorMetrics,
  ) {}

  /** Starts filling the pool (called once the runtime deps are known). */
  start(deps: RuntimeDeps): void {
    this.deps = deps;
    if (deps.template.kernel) this.refill();
  }

  get size(): number {
    return this.ready.length;
  }

  /** A ready kernel, or undefined when the pool is empty (the caller starts one itself). */
  take(): WarmKernel | undefined {
    let warm: WarmKernel | undefined;
    while ((warm = this.ready.shift())) {
      if (warm.kernel.alive) break;
      this.sandbox.slots.release(warm.slot);
    }
    this.metrics.warmKernels.set(this.ready.length);
    this.refill();
    return warm;
  }

  /** Resolves once the pool holds WARM_KERNELS kernels (tests, benchmarks). */
  waitFull(): Promise<void> {
    if (this.isFull()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private readonly waiters: Array<() => void> = [];

  private isFull(): boolean {
    return !this.deps?.template.kernel || this.stopped || this.ready.length >= this.cfg.WARM_KERNELS;
  }

  private notify(): void {
    if (!this.isFull()) return;
    for (const w of this.waiters.splice(0)) w();
  }

  private refill(): void {
    const deps = this.deps;
    if (!deps?.template.kernel || this.stopped) return;
    if (this.ready.length + this.filling >= this.cfg.WARM_KERNELS || this.filling > 0) return;
    let slot: Slot;
    try {
      slot = this.sandbox.slots.allocate();
    } catch (err) {
      // The sandbox refuses sessions (containment not ready) or a slot could not be prepared.
      this.logger.warn(`warm kernel not started: ${(err as Error).message}`);
      return;
    }
    this.filling++;
    this.inFlight = KernelRuntime.startKernel(slot, deps, this.cfg.ALLOW_NETWORK)
      .then(async (kernel) => {
        this.filling--;
        if (this.stopped) {
          await kernel.close();
          this.sandbox.slots.release(slot);
          return;
        }
        this.ready.push({ slot, kernel });
        this.metrics.warmKernels.set(this.ready.length);
        this.notify();
        this.refill();
      })
      .catch((err: Error) => {
        this.filling--;
        this.sandbox.slots.release(slot);
        this.logger.error(`warm kernel failed to start: ${err.message}`);
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.notify();
    await this.inFlight;
    const all = this.ready.splice(0);
    await Promise.all(
      all.map(async (w) => {
        await w.kernel.close();
        this.sandbox.slots.release(w.slot);
      }),
    );
    this.metrics.warmKernels.set(0);
  }
}
