import { spawn, type ChildProcess, type IOType, type StdioNull, type StdioPipe } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import type { SpawnSpec, Slot } from '../sandbox/sandbox';

type StdioEntry = IOType | StdioNull | StdioPipe | number | 'ipc' | null | undefined;

/**
 * Starts a sandboxed process as the leader of its own process group. `stdio` is the caller's (fds 0…n);
 * the spec's `files` (e.g. the seccomp program for bwrap) are opened read-only — a fresh open file
 * description per spawn, so every child reads from offset 0 — passed at their fds, and closed here once
 * the child has them.
 */
export function spawnTree(spec: SpawnSpec, stdio: StdioEntry[]): ChildProcess {
  const all: StdioEntry[] = [...stdio];
  const opened: number[] = [];
  try {
    for (const f of spec.files ?? []) {
      if (f.fd < all.length && all[f.fd] !== undefined)
        throw new Error(`fd ${f.fd} of ${f.path} collides with the caller's stdio`);
      while (all.length < f.fd) all.push('ignore');
      const fd = openSync(f.path, 'r');
      opened.push(fd);
      all[f.fd] = fd;
    }
    return spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      uid: spec.uid,
      gid: spec.gid,
      stdio: all,
      detached: true,
    });
  } finally {
    for (const fd of opened) closeSync(fd);
  }
}

/** Kills a process group and every process left in the slot's cgroup (processes that called setsid). */
export function killTree(child: ChildProcess, slot?: Slot): void {
  if (child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  }
  for (const pid of slot?.cgroup?.pids() ?? []) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
}

/** Resolves when the child has exited and its stdio streams are closed. */
export function closed(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    if (child.stdout?.readableEnded !== false && child.stderr?.readableEnded !== false) {
      return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
    }
  }
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
}

/** The exit code we report for a process: its code, or 128 + signal number. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const signals: Record<string, number> = {
    SIGKILL: 9,
    SIGTERM: 15,
    SIGSEGV: 11,
    SIGABRT: 6,
    SIGXFSZ: 25,
    SIGXCPU: 24,
    SIGINT: 2,
    SIGBUS: 7,
  };
  return 128 + (signal ? (signals[signal] ?? 1) : 1);
}
