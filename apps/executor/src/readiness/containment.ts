import type { SandboxService } from '../sandbox/sandbox.service';

/**
 * What the sandbox of this pod contains, as the readiness check and the heartbeat report it.
 *
 * Minimal interface: the sandbox's own full report (seccomp, /etc allowlist, cgroup delegation…)
 * belongs to apps/executor/src/sandbox; until it exports one, {@link containmentReport} derives
 * this from what SandboxService exposes. `ok: false` makes the pod not ready with `reason`.
 */
export interface ContainmentReport {
  ok: boolean;
  mode: 'bwrap' | 'none';
  /** Why the sandbox is not usable (only when `ok` is false). */
  reason?: string;
  /** Facts for operators (shown on /health/ready). */
  details: Record<string, string | boolean>;
}

export function containmentReport(sandbox: SandboxService): ContainmentReport {
  const mode = sandbox.sandbox.mode;
  return {
    ok: true,
    mode,
    details: {
      sessionUids: sandbox.distinctUids ? 'one uid per session' : 'shared with the executor',
      cgroups: sandbox.cgroups ? 'per-session cgroups' : 'none (rlimits only)',
      ...(mode === 'none' ? { warning: 'SANDBOX=none: sessions are plain processes of this machine' } : {}),
    },
  };
}
