import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import {
  ENDED_PROCESS_RETENTION_MS,
  JobError,
  type ProcessEnd,
  type ProcessEvent,
  type ProcessGetResult,
  type ProcessInfo,
  type ProcessSignal,
  type ProcessStartPayload,
} from '@executor/queues';
import { sandboxPath } from '@executor/workspace-fs';
import { spawnTree } from '../kernels/process-tree';
import type { Sandbox, Slot } from '../sandbox/sandbox';
import type { SandboxFs } from '../fs/sandbox-fs';
import { killProcessTree } from './descendants';
import { commandPid, processEnd } from './process-signals';

/** After the main process exited, how long leftover children may keep its pipes open. */
const ORPHAN_GRACE_MS = 100;

export interface ProcessManagerOptions {
  sandbox: Sandbox;
  slot: Slot;
  fs: SandboxFs;
  network: boolean;
  /** Base environment of a command: the sandbox's, the template's and the session's. */
  env: () => Record<string, string>;
  /** Running commands at most. */
  maxRunning: number;
  /** Bytes of stdout and of stderr published per process at most (the rest is drained and dropped). */
  maxOutputBytes: number;
  /** Publishes one event on the process's channel (same connection as job replies). */
  publish: (procId: string, event: ProcessEvent) => void;
}

interface Proc {
  readonly info: ProcessInfo;
  readonly child: ChildProcess;
  readonly stdin: boolean;
  delivered?: NodeJS.Signals;
  timedOut?: number;
  timer?: NodeJS.Timeout;
  ended?: ProcessEnd;
  done: Promise<void>;
}

type Selector = { pid?: number; tag?: string };

/**
 * The commands of one session (E2B's process service): each is its own sandboxed process tree
 * (own bwrap instance; the session's binds, uid, cgroup and limits, spawned like the kernels), with
 * stdout/stderr streamed as base64 events on its channel, stdin fed on request, signals, a timeout,
 * and its end kept for {@link ENDED_PROCESS_RETENTION_MS} so a re-attach can still report it.
 * Calls do not take the session's mutex: commands run beside executions.
 */
export class ProcessManager {
  private readonly running = new Map<number, Proc>();
  private readonly ended = new Map<number, Proc>();
  private readonly expiry = new Map<number, NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly opts: ProcessManagerOptions) {}

  get runningCount(): number {
    return this.running.size;
  }

  async start(p: ProcessStartPayload): Promise<{ pid: number }> {
    if (this.closed) throw new JobError('session_not_on_pod', 'the session is closing');
    if (this.running.size >= this.opts.maxRunning) {
      throw new JobError(
        'rate_limited',
        `this session runs ${this.running.size} commands, the limit is ${this.opts.maxRunning}`,
      );
    }
    for (const other of [...this.running.values(), ...this.ended.values()]) {
      if (other.info.procId === p.procId) throw new JobError('conflict', `procId "${p.procId}" is in use`);
    }
    const { fs, sandbox, slot } = this.opts;
    const where = fs.parse(p.cwd ?? '/home/user');
    const dir = await fs
      .area(where)
      .stat(where.path, { follow: true })
      .catch(() => undefined);
    if (!dir || dir.type !== 'dir')
      throw new JobError('invalid_argument', `cwd "${p.cwd}" is not a directory of the sandbox`);
    const spec = sandbox.spec(slot, {
      argv: [p.cmd, ...p.args],
      env: { ...this.opts.env(), ...p.envs },
      network: this.opts.network,
      addressSpaceLimit: false,
      cwd: fs.inner(where),
    });
    let child: ChildProcess;
    try {
      child = spawnTree(spec, [p.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe']);
    } catch (err) {
      throw new JobError('internal', `could not start the command: ${(err as Error).message}`);
    }
    const pid = child.pid;
    if (pid === undefined) {
      const why = await new Promise<string>((resolve) => child.once('error', (e) => resolve(e.message)));
      throw new JobError('internal', `could not start the command: ${why}`);
    }
    const info: ProcessInfo = {
      pid,
      procId: p.procId,
      cmd: p.cmd,
      args: [...p.args],
      envs: { ...p.envs },
      cwd: sandboxPath(where),
      ...(p.tag ? { tag: p.tag } : {}),
    };
    const proc: Proc = { info, child, stdin: p.stdin, done: Promise.resolve() };
    this.running.set(pid, proc);
    const publish = (e: ProcessEvent): void => this.opts.publish(p.procId, e);
    publish({ t: 'start', pid });
    for (const [name, stream] of [
      ['stdout', child.stdout],
      ['stderr', child.stderr],
    ] as const) {
      let sent = 0;
      (stream as Readable).on('data', (d: Buffer) => {
        if (sent >= this.opts.maxOutputBytes) return; // drained, dropped
        const part =
          d.length > this.opts.maxOutputBytes - sent ? d.subarray(0, this.opts.maxOutputBytes - sent) : d;
        sent += part.length;
        publish({ t: name, data: part.toString('base64') });
      });
    }
    (child.stdin as Writable | null)?.on('error', () => undefined); // EPIPE once it exited
    let spawnError: string | undefined;
    child.on('error', (e) => (spawnError = e.message));
    if (p.timeoutMs && p.timeoutMs > 0) {
      proc.timer = setTimeout(() => {
        proc.timedOut = p.timeoutMs;
        this.kill(proc, 'SIGKILL');
      }, p.timeoutMs);
    }
    proc.done = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        if (proc.timer) clearTimeout(proc.timer);
        const finish = (): void => {
          const error = proc.timedOut ? `timed out after ${proc.timedOut} ms` : spawnError;
          proc.ended = processEnd(code, signal, proc.delivered, error);
          publish({ t: 'end', ...proc.ended });
          this.running.delete(pid);
          this.ended.set(pid, proc);
          const t = setTimeout(() => {
            this.ended.delete(pid);
            this.expiry.delete(pid);
          }, ENDED_PROCESS_RETENTION_MS);
          t.unref();
          this.expiry.set(pid, t);
          resolve();
        };
        // Output still in the pipes comes first; children left holding them get a short grace.
        let open = 0;
        let grace: NodeJS.Timeout | undefined;
        const closedOne = (): void => {
          open -= 1;
          if (open === 0) {
            if (grace) clearTimeout(grace);
            finish();
          }
        };
        for (const s of [child.stdout, child.stderr]) {
          if (!s || s.destroyed || s.readableEnded) continue;
          open += 1;
          s.once('close', closedOne);
        }
        if (open === 0) finish();
        else
          grace = setTimeout(() => {
            for (const s of [child.stdout, child.stderr]) s?.destroy();
          }, ORPHAN_GRACE_MS);
      });
    });
    return { pid };
  }

  /** Running commands. */
  list(): ProcessInfo[] {
    return [...this.running.values()].map((p) => ({ ...p.info }));
  }

  /** A running command, or one that ended less than a minute ago (with `ended`). */
  get(sel: Selector): ProcessGetResult {
    const p = this.find(sel, true);
    return p.ended ? { ...p.info, ended: { ...p.ended } } : { ...p.info };
  }

  async input(sel: Selector, data: string): Promise<void> {
    const p = this.find(sel, false);
    if (!p.stdin || !p.child.stdin)
      throw new JobError('invalid_argument', `process ${p.info.pid} has no stdin`);
    const stdin = p.child.stdin;
    if (stdin.writableEnded)
      throw new JobError('invalid_argument', `stdin of process ${p.info.pid} is closed`);
    const bytes = Buffer.from(data, 'base64');
    await new Promise<void>((resolve) => stdin.write(bytes, () => resolve()));
  }

  closeStdin(sel: Selector): void {
    const p = this.find(sel, false);
    if (!p.stdin || !p.child.stdin)
      throw new JobError('invalid_argument', `process ${p.info.pid} has no stdin`);
    p.child.stdin.end();
  }

  signal(sel: Selector, signal: ProcessSignal): void {
    this.kill(this.find(sel, false), signal);
  }

  /** Kills every command and waits for their ends (session close). */
  async killAll(): Promise<void> {
    this.closed = true;
    const all = [...this.running.values()];
    for (const p of all) this.kill(p, 'SIGKILL');
    await Promise.all(all.map((p) => p.done));
    for (const t of this.expiry.values()) clearTimeout(t);
    this.expiry.clear();
    this.ended.clear();
  }

  private kill(p: Proc, signal: NodeJS.Signals): void {
    const pid = p.info.pid;
    p.delivered = signal;
    try {
      if (signal === 'SIGKILL') {
        // The whole tree: the process group of the leader (with bwrap, the sandbox's pid namespace
        // dies with its outer bwrap). Never the slot's cgroup: the kernels live there too.
        killProcessTree(pid);
      } else {
        process.kill(commandPid(pid), signal);
      }
    } catch {
      // already gone: its end is on the way
    }
  }

  private find(sel: Selector, includeEnded: boolean): Proc {
    if ((sel.pid === undefined) === (sel.tag === undefined))
      throw new JobError('invalid_argument', 'select the process by exactly one of pid or tag');
    const pools = includeEnded ? [this.running, this.ended] : [this.running];
    for (const pool of pools) {
      if (sel.pid !== undefined) {
        const p = pool.get(sel.pid);
        if (p) return p;
      } else {
        for (const p of pool.values()) if (p.info.tag === sel.tag) return p;
      }
    }
    throw new JobError(
      'not_found',
      sel.pid !== undefined ? `no process with pid ${sel.pid}` : `no process tagged "${sel.tag}"`,
    );
  }
}
