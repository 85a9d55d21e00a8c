import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { ExecutionError, ResultItem } from '@executor/queues';
import type { Slot, SpawnSpec } from '../sandbox/sandbox';
import { OutputCollector } from './output-collector';
import { killProcessTree } from '../processes/descendants';
import { exitCodeOf, spawnTree } from './process-tree';

/** Outcome of one execution (the fields of ExecuteResult the runner fills). */
export interface RunOutcome {
  exitCode: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  truncated: boolean;
  /** The kernel process died during this execution (it must be restarted). */
  kernelDied: boolean;
  /** Rich results in the order the kernel produced them (kernels only). */
  results?: ResultItem[];
  /** The kernel's structured error (exception, timeout). */
  error?: ExecutionError;
  /** The kernel's execution counter after this execution. */
  executionCount?: number;
}

/** Receives an execution's output and results as they are produced (streaming). */
export interface ExecutionSink {
  /** A piece of stdout/stderr text (whole UTF-8 characters), `ts` = epoch ms it was read. */
  output(stream: 'stdout' | 'stderr', text: string, ts: number): void;
  result(item: ResultItem): void;
}

/** Grace after the timeout during which the kernel may interrupt the cell itself (keeping its state). */
export const KERNEL_TIMEOUT_GRACE_MS = 400;
/** Time a kernel has to say it is ready. */
export const KERNEL_START_TIMEOUT_MS = 30_000;

interface Reply {
  id?: string;
  ready?: boolean;
  exitCode?: number;
  timedOut?: boolean;
  executionCount?: number;
  error?: ExecutionError;
  /** An interim rich result (not the final reply). */
  display?: ResultItem;
}

interface Pending {
  id: string;
  reply?: Reply;
  outDone: boolean;
  errDone: boolean;
  results: ResultItem[];
  sink?: ExecutionSink;
  decoders: { stdout: StringDecoder; stderr: StringDecoder };
  finish: (o: RunOutcome) => void;
}

/**
 * One long-lived interpreter (python / node / typescript kernel) for one session, driven over a
 * JSON-lines protocol on fds 3 (requests) and 4 (replies); stdout/stderr are fds 1/2.
 */
export class KernelProcess {
  private child?: ChildProcess;
  private readonly out: OutputCollector;
  private readonly err: OutputCollector;
  private pending?: Pending;
  private replyBuf = '';
  private readyResolve?: () => void;
  private dead = false;
  private exitInfo = '';
  readonly startedAt = Date.now();

  constructor(
    private readonly spec: SpawnSpec,
    readonly slot: Slot,
    maxOutputBytes: number,
    private readonly describeDeath: () => string = () => '',
  ) {
    this.out = new OutputCollector(maxOutputBytes);
    this.err = new OutputCollector(maxOutputBytes);
  }

  get alive(): boolean {
    return !this.dead;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns the kernel and waits for its ready message. */
  async start(): Promise<void> {
    const child = spawnTree(this.spec, ['ignore', 'pipe', 'pipe', 'pipe', 'pipe']);
    this.child = child;
    const startupErr: Buffer[] = [];
    (child.stdout as Readable).on('data', (d: Buffer) => this.out.push(d));
    (child.stderr as Readable).on('data', (d: Buffer) => {
      if (!this.readyResolve) this.err.push(d);
      else if (startupErr.length < 64) startupErr.push(d);
    });
    const replies = child.stdio[4] as Readable;
    replies.setEncoding('utf8');
    replies.on('data', (d: string) => this.onReplyData(d));
    (child.stdio[3] as Writable).on('error', () => undefined); // EPIPE when the kernel died: handled by 'exit'
    const ready = new Promise<void>((resolve, reject) => {
      this.readyResolve = resolve;
      const timer = setTimeout(() => {
        this.kill();
        reject(new Error(`kernel did not start within ${KERNEL_START_TIMEOUT_MS} ms`));
      }, KERNEL_START_TIMEOUT_MS);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `kernel exited during start (${code ?? signal}): ${Buffer.concat(startupErr).toString().slice(0, 2000)}`,
          ),
        );
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      this.readyTimer = timer;
    });
    child.on('exit', (code, signal) => this.onExit(code, signal));
    await ready;
  }

  private readyTimer?: NodeJS.Timeout;

  /** Runs one cell. Never rejects: kernel death and timeouts are outcomes. */
  run(
    code: string,
    timeoutMs: number,
    env?: Record<string, string>,
    invalidateImports = false,
    sink?: ExecutionSink,
  ): Promise<RunOutcome> {
    if (this.dead || !this.child) {
      return Promise.resolve({
        exitCode: 1,
        stdout: '',
        stderr: 'kernel is not running\n',
        timedOut: false,
        truncated: false,
        kernelDied: true,
      });
    }
    if (this.pending) throw new Error('kernel is busy (executions of a session must be serialized)');
    const id = randomBytes(6).toString('hex');
    const nonce = randomBytes(12).toString('hex');
    return new Promise<RunOutcome>((resolve) => {
      const timers: { hard?: NodeJS.Timeout } = {};
      const pending: Pending = {
        id,
        outDone: false,
        errDone: false,
        results: [],
        sink,
        decoders: { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') },
        finish: (o) => {
          if (timers.hard) clearTimeout(timers.hard);
          this.out.detach();
          this.err.detach();
          this.endStreams(pending);
          this.pending = undefined;
          resolve(o);
        },
      };
      this.pending = pending;
      const marker = `\0${nonce}\0`;
      const stream =
        (name: 'stdout' | 'stderr') =>
        (d: Buffer): void => {
          const text = pending.decoders[name].write(d);
          if (text) pending.sink?.output(name, text, Date.now());
        };
      this.out.begin(
        marker,
        () => {
          pending.outDone = true;
          this.maybeFinish();
        },
        sink ? stream('stdout') : undefined,
      );
      this.err.begin(
        marker,
        () => {
          pending.errDone = true;
          this.maybeFinish();
        },
        sink ? stream('stderr') : undefined,
      );
      timers.hard = setTimeout(() => {
        // The cell did not stop by itself (e.g. blocked in C code or a child process): kill the kernel.
        this.timedOutHard = true;
        this.kill();
      }, timeoutMs + KERNEL_TIMEOUT_GRACE_MS);
      const line =
        JSON.stringify({ id, code, nonce, timeoutMs, env, invalidate: invalidateImports || undefined }) +
        '\n';
      (this.child?.stdio[3] as Writable).write(line);
    });
  }

  private timedOutHard = false;

  private onReplyData(d: string): void {
    this.replyBuf += d;
    let i: number;
    while ((i = this.replyBuf.indexOf('\n')) >= 0) {
      const line = this.replyBuf.slice(0, i);
      this.replyBuf = this.replyBuf.slice(i + 1);
      let msg: Reply;
      try {
        msg = JSON.parse(line) as Reply;
      } catch {
        continue;
      }
      if (msg.ready && this.readyResolve) {
        const r = this.readyResolve;
        this.readyResolve = undefined;
        if (this.readyTimer) clearTimeout(this.readyTimer);
        this.out.begin();
        this.err.begin();
        r();
      } else if (this.pending && msg.id === this.pending.id) {
        if (msg.display && typeof msg.display === 'object') {
          const item: ResultItem = { ...msg.display, isMain: msg.display.isMain === true };
          this.pending.results.push(item);
          this.pending.sink?.result(item);
          continue;
        }
        this.pending.reply = msg;
        this.maybeFinish();
      }
    }
  }

  private maybeFinish(): void {
    const p = this.pending;
    if (!p || !p.reply || !p.outDone || !p.errDone) return;
    const error = p.reply.error;
    p.finish({
      exitCode: p.reply.exitCode ?? 0,
      // Callers that read text only see what a REPL shows: the main result's text after the output,
      // the error's traceback after stderr (neither is streamed as output: they are events of their own).
      stdout: withLine(this.out.text(), this.out.truncated ? undefined : mainText(p.results)),
      stderr: withLine(this.err.text(), error?.traceback || undefined),
      timedOut: !!p.reply.timedOut,
      truncated: this.out.truncated || this.err.truncated,
      kernelDied: false,
      results: p.results,
      ...(error ? { error } : {}),
      ...(typeof p.reply.executionCount === 'number' ? { executionCount: p.reply.executionCount } : {}),
    });
    this.out.begin();
    this.err.begin();
  }

  /** Flushes the UTF-8 decoders of a finished execution to its sink. */
  private endStreams(p: Pending): void {
    if (!p.sink) return;
    const ts = Date.now();
    for (const name of ['stdout', 'stderr'] as const) {
      const rest = p.decoders[name].end();
      if (rest) p.sink.output(name, rest, ts);
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.dead = true;
    this.exitInfo = signal ? `signal ${signal}` : `exit code ${code}`;
    const p = this.pending;
    if (!p) return;
    // Let the stdout/stderr pipes drain before reporting (they close right after exit).
    const child = this.child as ChildProcess;
    const report = (): void => {
      this.out.flush();
      this.err.flush();
      const timedOut = this.timedOutHard;
      const why = this.describeDeath();
      const note = timedOut
        ? `TimeoutError: execution exceeded its timeout; the kernel was killed and restarted (variables are lost, files are kept)\n`
        : `kernel died (${why || this.exitInfo}); it is restarted for the next execution (variables are lost, files are kept)\n`;
      const stderr = this.err.text();
      p.finish({
        exitCode: timedOut ? 124 : exitCodeOf(code, signal),
        stdout: this.out.text(),
        stderr: stderr + (stderr && !stderr.endsWith('\n') ? '\n' : '') + note,
        timedOut,
        truncated: this.out.truncated || this.err.truncated,
        kernelDied: true,
        results: p.results,
        error: timedOut
          ? { name: 'TimeoutError', value: 'execution exceeded its timeout', traceback: note }
          : { name: 'KernelDied', value: why || this.exitInfo, traceback: note },
      });
    };
    let open = 2;
    const done = (): void => {
      open -= 1;
      if (open === 0) report();
    };
    for (const s of [child.stdout, child.stderr]) {
      if (!s || s.readableEnded || s.destroyed) done();
      else {
        s.once('close', done);
      }
    }
  }

  /**
   * Kills the kernel and every process of its tree — not the rest of the slot's cgroup: the
   * session's other contexts and its commands live there too.
   */
  kill(): void {
    if (this.child?.pid !== undefined) killProcessTree(this.child.pid);
  }

  /** Closes the kernel: kill and wait for it to be gone. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      this.kill();
      await exited;
    }
    this.dead = true;
  }
}

/** The text/plain of the main result (the last expression's value), if any. */
function mainText(results: ResultItem[]): string | undefined {
  const main = results.find((r) => r.isMain);
  const text = main?.['text/plain'];
  return typeof text === 'string' ? text : undefined;
}

/** `text` followed by `line` and a newline, as a REPL writes it after the cell's own output. */
function withLine(text: string, line: string | undefined): string {
  if (line === undefined || line === '') return text;
  return text + line + (line.endsWith('\n') ? '' : '\n');
}
