import type { CgroupSupport } from './cgroups';
import type { SeccompFilter } from './seccomp';

/**
 * What contains this pod's sessions, measured at boot (a plain value: readiness, heartbeats and
 * `GET /v1/pools` publish it). `ready: false` means the executor refuses sessions, with `reason`.
 */
export interface ContainmentReport {
  ready: boolean;
  /** Why sessions are refused (only when `ready` is false). */
  reason?: string;
  mode: 'bwrap' | 'none';
  /** uid of the executor process. */
  executorUid: number;
  /** Session uids outside the sandbox: `distinct` (SANDBOX_UID_BASE + slot, root executor) or `shared` (the executor's). */
  uids: { mode: 'distinct' | 'shared'; base?: number };
  /** uid/gid of session code inside the sandbox (bwrap), user `user`. */
  insideUid?: number;
  /** Per-session cgroups (pids, memory, cpu), nested under the executor's own cgroup. */
  cgroups: CgroupSupport;
  /** Per-slot tmpfs bounding workspace + tmp (root executor). */
  tmpfs: { enabled: boolean; maxBytes?: number; maxFiles?: number; reason?: string };
  /** The seccomp filter of session processes (bwrap). */
  seccomp: { enabled: boolean; rules?: number; reason?: string };
  /** bwrap --disable-userns: session code cannot create user namespaces. */
  userNamespacesDisabled: boolean;
  /** Default network of sessions (ALLOW_NETWORK). */
  network: boolean;
  /** Weaker guarantees of this configuration (logged at WARN at boot). */
  warnings: string[];
}

/** The facts measured at boot from which the report is derived. */
export interface ContainmentFacts {
  mode: 'bwrap' | 'none';
  executorUid: number;
  uidBase?: number;
  cgroups: CgroupSupport;
  tmpfs: { enabled: boolean; maxBytes: number; maxFiles: number; error?: string };
  seccomp?: SeccompFilter;
  seccompError?: string;
  /** Why bwrap cannot run the sandbox here (missing binary, user namespaces unavailable …). */
  bwrapError?: string;
  network: boolean;
  /** MEMORY_LIMIT_MB in bytes (tmpfs pages written by session code count toward it). */
  memoryBytes?: number;
}

/** Derives the containment report: which invariants hold, and whether sessions may be opened. */
export function assessContainment(f: ContainmentFacts): ContainmentReport {
  const root = f.executorUid === 0;
  const distinct = root && f.uidBase !== undefined && f.uidBase > 0;
  const warnings: string[] = [];
  const refusals: string[] = [];
  const bwrap = f.mode === 'bwrap';

  if (!bwrap) {
    warnings.push(
      'SANDBOX=none: sessions are plain child processes that see the pod (files, network, /proc): only for pods that are the boundary themselves (one session per gVisor/Kata pod)',
    );
  } else {
    if (f.bwrapError) refusals.push(`bwrap cannot build the sandbox: ${f.bwrapError}`);
    if (!f.seccomp) refusals.push(`no seccomp filter: ${f.seccompError ?? 'not compiled'}`);
    if (!f.cgroups.pids || !f.cgroups.memory) {
      refusals.push(
        `no per-session pids/memory cgroup (${f.cgroups.reason})` +
          (root
            ? ''
            : ': a non-root executor needs its own cgroup delegated to its uid (writable), e.g. a systemd Delegate=yes unit or a chown-ed subtree'),
      );
    }
    if (root && !f.tmpfs.enabled)
      refusals.push(`cannot mount the per-slot tmpfs: ${f.tmpfs.error ?? 'unknown error'}`);
  }
  if (!f.cgroups.cpu)
    warnings.push(`no cpu cgroup: sessions share CPU without per-session weights (${f.cgroups.reason})`);
  if (!distinct)
    warnings.push(
      'sessions share the executor uid outside their user namespace: no per-session RLIMIT_NPROC (the pids cgroup limits processes)',
    );
  if (!f.tmpfs.enabled)
    warnings.push(
      'no per-slot tmpfs (needs a root executor): workspace bytes/files are bounded only by RLIMIT_FSIZE per file and by the volume of WORKSPACE_ROOT (size it, e.g. an emptyDir sizeLimit)',
    );
  if (f.tmpfs.enabled && f.memoryBytes !== undefined && f.tmpfs.maxBytes >= f.memoryBytes)
    warnings.push(
      `WORKSPACE_MAX_BYTES (${f.tmpfs.maxBytes}) is not below MEMORY_LIMIT_MB (${f.memoryBytes} bytes): files a session writes count toward its memory limit, a full workspace leaves its processes no memory`,
    );
  if (f.network) warnings.push('ALLOW_NETWORK=true: sessions get the pod network by default');

  const ready = refusals.length === 0;
  const seccompRules = f.seccomp
    ? f.seccomp.summary.allowed + f.seccomp.summary.conditional + f.seccomp.summary.errno
    : undefined;
  return {
    ready,
    ...(ready ? {} : { reason: refusals.join('; ') }),
    mode: f.mode,
    executorUid: f.executorUid,
    uids: distinct ? { mode: 'distinct', base: f.uidBase } : { mode: 'shared' },
    ...(bwrap ? { insideUid: 1000 } : {}),
    cgroups: f.cgroups,
    tmpfs: f.tmpfs.enabled
      ? { enabled: true, maxBytes: f.tmpfs.maxBytes, maxFiles: f.tmpfs.maxFiles }
      : { enabled: false, reason: f.tmpfs.error ?? 'not root' },
    seccomp: f.seccomp
      ? { enabled: true, rules: seccompRules }
      : { enabled: false, reason: bwrap ? (f.seccompError ?? 'not compiled') : 'SANDBOX=none' },
    userNamespacesDisabled: bwrap && !f.bwrapError,
    network: f.network,
    warnings,
  };
}
