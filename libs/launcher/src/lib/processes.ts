import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** Where a child's stdout/stderr go. */
export type OutputMode = 'inherit' | 'file' | 'silent';

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal) when the process ends. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Last lines of output (for error messages). */
  tail(): string;
}

const live = new Set<ChildProcess>();
let reaperInstalled = false;

/** Children never outlive the launcher: whatever is still running when it exits is killed. */
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!reaperInstalled) {
    reaperInstalled = true;
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
}

/** Spawns a child whose output is prefixed, written to a log file, or dropped. */
export function startProcess(opts: {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  output: OutputMode;
  logDir: string;
}): ManagedProcess {
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let file: WriteStream | undefined;
  if (opts.output === 'file') {
    mkdirSync(opts.logDir, { recursive: true });
    file = createWriteStream(join(opts.logDir, `${opts.name}.log`), { flags: 'a' });
  }
  const lines: string[] = [];
  const onData = (stream: NodeJS.WriteStream) => (d: Buffer) => {
    const text = d.toString();
    for (const l of text.split('\n')) if (l) lines.push(l);
    if (lines.length > 50) lines.splice(0, lines.length - 50);
    if (opts.output === 'inherit') {
      for (const l of text.split('\n')) if (l) stream.write(`[${opts.name}] ${l}\n`);
    } else file?.write(d);
  };
  child.stdout?.on('data', onData(process.stdout));
  child.stderr?.on('data', onData(process.stderr));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      file?.end();
      resolve({ code, signal });
    });
  });
  return { name: opts.name, child, exited, tail: () => lines.slice(-20).join('\n') };
}

/** Sends `signal`, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopProcess(
  p: ManagedProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 15_000,
): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}

/** A TCP port free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Waits until `url` answers 200, or the process exits, or the deadline passes. Polling an
 * HTTP health endpoint is the readiness signal these services offer.
 */
export async function waitHealthy(
  url: string,
  proc: ManagedProcess | undefined,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
      throw new Error(`${proc.name} exited before it was ready:\n${proc.tail()}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `${proc?.name ?? url} not ready after ${timeoutMs} ms (${last})${proc ? `:\n${proc.tail()}` : ''}`,
  );
}
