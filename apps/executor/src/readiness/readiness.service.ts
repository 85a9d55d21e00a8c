import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { JobError } from '@executor/queues';
import { getTemplate } from '@executor/templates';
import { EXECUTOR_CONFIG, type ExecutorConfig } from '../config/executor.config';
import { SandboxService } from '../sandbox/sandbox.service';
import type { ContainmentReport } from '../sandbox/containment';
import { runSmoke, type SmokeResult } from './smoke';

/** Whether this pod may take sessions, and why not. */
export interface PodReadiness {
  ready: boolean;
  /** Why the pod is not ready (starting, sandbox or template broken). */
  reason?: string;
  containment: ContainmentReport;
  smoke?: SmokeResult;
}

/**
 * Decides whether this pod takes sessions: its sandbox must contain sessions (the sandbox's
 * containment report, `ready`) and its
 * template's smoke program must pass through the real runtime at boot. Until then — or forever, when
 * either fails — session.open answers `unavailable` with the reason, the heartbeat says
 * `healthy: false` with the reason, and /health/ready is down with the reason.
 */
@Injectable()
export class ReadinessService implements OnApplicationBootstrap {
  private readonly logger = new Logger(ReadinessService.name);
  private state: PodReadiness;
  private readonly listeners: Array<() => void> = [];
  private settle!: () => void;
  /** Resolves once the boot checks are done, passed or failed (the worker starts then). */
  readonly settled = new Promise<void>((resolve) => (this.settle = resolve));

  constructor(
    @Inject(EXECUTOR_CONFIG) private readonly cfg: ExecutorConfig,
    private readonly sandbox: SandboxService,
  ) {
    // The sandbox's own containment report (measured at boot; SandboxService logs its warnings,
    // SANDBOX=none included, at WARN).
    const containment = sandbox.containment;
    this.state = containment.ready
      ? { ready: false, reason: 'starting: the template smoke test has not finished', containment }
      : { ready: false, reason: `sandbox not ready: ${containment.reason ?? 'unknown reason'}`, containment };
  }

  get current(): PodReadiness {
    return this.state;
  }

  /** Called whenever readiness changes (the heartbeat publishes at once). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Throws `unavailable` with the reason unless the pod takes sessions. */
  assertReady(): void {
    if (!this.state.ready) {
      throw new JobError('unavailable', `${this.state.reason ?? 'not ready'} (pod ${this.cfg.POD_NAME})`);
    }
  }

  /** Runs the smoke test before the application counts as started (awaited by app.init / listen). */
  async onApplicationBootstrap(): Promise<void> {
    try {
      await this.check();
    } finally {
      this.settle();
    }
  }

  private async check(): Promise<void> {
    if (!this.state.containment.ready) {
      this.logger.error(`not ready: ${this.state.reason}`);
      return;
    }
    const template = getTemplate(this.cfg.TEMPLATE);
    const smoke = await runSmoke(
      template,
      {
        template,
        sandbox: this.sandbox.sandbox,
        maxOutputBytes: this.cfg.MAX_OUTPUT_BYTES,
        memoryMb: this.cfg.MEMORY_LIMIT_MB,
        compileTimeoutMs: this.cfg.COMPILE_TIMEOUT_MS,
        onKernelRestart: () => undefined,
      },
      this.sandbox.slots,
      this.cfg.SMOKE_TIMEOUT_MS,
    );
    this.state = smoke.ok
      ? { ready: true, containment: this.state.containment, smoke }
      : { ready: false, reason: smoke.reason, containment: this.state.containment, smoke };
    if (smoke.ok) this.logger.log(`template ${template.name} smoke test passed in ${smoke.ms} ms`);
    else this.logger.error(`not ready: ${smoke.reason}`);
    for (const l of this.listeners) l();
  }
}
