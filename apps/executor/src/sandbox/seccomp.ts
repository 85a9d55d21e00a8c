import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** fd on which bwrap reads the seccomp program (`--seccomp 9`); fds ≥ 8 are reserved for the sandbox. */
export const SECCOMP_FD = 9;

/** Python with Debian's python3-seccomp (libseccomp bindings); never the executor's PATH (pyenv shims). */
export const SECCOMP_PYTHON = '/usr/bin/python3';

export interface SeccompFilter {
  /** Host path of the compiled BPF program (opened afresh for every spawn). */
  path: string;
  /** What compile.py reported: rule counts, names unknown on this architecture, size. */
  summary: {
    arch: string;
    allowed: number;
    conditional: number;
    errno: number;
    enosysNumbers: number;
    skipped: string[];
    bytes: number;
  };
}

/** Finds policy.json + compile.py: next to the bundle (assets) or in the sources (tests). */
export function findSeccompDir(): string {
  const candidates = [
    process.env['EXECUTOR_SECCOMP_DIR'],
    join(__dirname, 'seccomp'),
    join(__dirname, '..', 'seccomp'),
    join(__dirname, '..', 'sandbox', 'seccomp'),
    join(__dirname, '..', 'src', 'sandbox', 'seccomp'),
  ];
  for (const c of candidates) if (c && existsSync(join(c, 'policy.json'))) return c;
  throw new Error(
    `seccomp policy not found (looked in ${candidates.filter(Boolean).join(', ')}); set EXECUTOR_SECCOMP_DIR`,
  );
}

/**
 * Compiles the policy into `outFile` with libseccomp (python3-seccomp). Throws with the reason when the
 * library is missing or the policy is invalid: a bwrap sandbox never runs without its filter.
 */
export function compileSeccomp(outFile: string, dir = findSeccompDir()): SeccompFilter {
  const r = spawnSync(SECCOMP_PYTHON, ['-I', join(dir, 'compile.py'), join(dir, 'policy.json'), outFile], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' },
  });
  if (r.error || r.status !== 0) {
    const why = (r.error?.message ?? r.stderr ?? '').trim().split('\n').slice(-3).join(' ');
    const hint = /No module named 'seccomp'|ENOENT/.test(why)
      ? ' (install Debian package python3-seccomp: apps/executor/scripts/install-runtimes.sh)'
      : '';
    throw new Error(`cannot compile the seccomp filter: ${why}${hint}`);
  }
  const summary = JSON.parse(r.stdout.trim().split('\n').pop() as string) as SeccompFilter['summary'];
  return { path: outFile, summary };
}
