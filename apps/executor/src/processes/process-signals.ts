import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import type { ProcessEnd } from '@executor/queues';
import { childrenOf } from './descendants';

/** How Go's os.ProcessState names signals (envd's `status`: `signal: killed`). */
const GO_SIGNAL_NAMES: Readonly<Record<string, string>> = {
  SIGHUP: 'hangup',
  SIGINT: 'interrupt',
  SIGQUIT: 'quit',
  SIGILL: 'illegal instruction',
  SIGTRAP: 'trace/breakpoint trap',
  SIGABRT: 'aborted',
  SIGBUS: 'bus error',
  SIGFPE: 'floating point exception',
  SIGKILL: 'killed',
  SIGUSR1: 'user defined signal 1',
  SIGSEGV: 'segmentation fault',
  SIGUSR2: 'user defined signal 2',
  SIGPIPE: 'broken pipe',
  SIGALRM: 'alarm clock',
  SIGTERM: 'terminated',
  SIGXCPU: 'CPU time limit exceeded',
  SIGXFSZ: 'file size limit exceeded',
};

export function signalNumber(sig: NodeJS.Signals): number {
  return (constants.signals as Record<string, number>)[sig] ?? 0;
}

function signalByNumber(n: number): NodeJS.Signals | undefined {
  for (const [name, num] of Object.entries(constants.signals)) if (num === n) return name as NodeJS.Signals;
  return undefined;
}

/**
 * The end of a process as envd reports it: `exit status N` (exited) or `signal: <name>` (exitCode -1).
 * Through bwrap a command killed by signal N shows as exit code 128+N of bwrap; that is read as the
 * signal only when this executor delivered exactly that signal (otherwise `exit status 128+N`, which
 * is also what a shell reports for its killed child).
 */
export function processEnd(
  code: number | null,
  signal: NodeJS.Signals | null,
  delivered: NodeJS.Signals | undefined,
  error?: string,
): ProcessEnd {
  let sig: NodeJS.Signals | undefined = signal ?? undefined;
  if (!sig && code !== null && code > 128 && delivered && code - 128 === signalNumber(delivered)) {
    sig = signalByNumber(code - 128);
  }
  const end: ProcessEnd = sig
    ? { exitCode: -1, exited: false, status: `signal: ${GO_SIGNAL_NAMES[sig] ?? sig}` }
    : { exitCode: code ?? -1, exited: true, status: `exit status ${code ?? -1}` };
  if (error) end.error = error;
  return end;
}

function status(pid: number): { comm: string; nspid: number[] } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const comm = /^Name:\s*(.*)$/m.exec(text)?.[1] ?? '';
    const nspid = (/^NSpid:\s*(.*)$/m.exec(text)?.[1] ?? '').trim().split(/\s+/).map(Number);
    return { comm, nspid };
  } catch {
    return undefined;
  }
}

/**
 * The pid (host namespace) of the command a sandboxed process tree runs, for signals meant for it.
 * With bwrap the tree is: outer bwrap (the spawned leader, host pid namespace) → bwrap as pid 1 of
 * the sandbox's pid namespace → the command. Without a pid namespace the leader is the command
 * (the cgroup/prlimit wrappers exec it). Falls back to the leader.
 */
export function commandPid(leader: number): number {
  const queue = [leader];
  const seen = new Set<number>();
  while (queue.length) {
    const pid = queue.shift() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const st = status(pid);
    if (!st) continue;
    const nested = st.nspid.length > 1;
    const nsInit = nested && st.nspid[st.nspid.length - 1] === 1 && st.comm === 'bwrap';
    if (pid !== leader && nested && !nsInit) return pid;
    if (pid === leader && !nested && st.comm !== 'bwrap') return pid;
    queue.push(...childrenOf(pid));
  }
  return leader;
}
