import { randomUUID } from 'node:crypto';
import type { Static, TSchema } from '@sinclair/typebox';
import {
  PodJobDefs,
  createPipeRef,
  procChannel,
  readPipe,
  streamChannel,
  watchChannel,
  writePipe,
  type ExecuteResult,
  type ExecutionEvent,
  type JobDef,
  type PipeRef,
  type ProcessEnd,
  type ProcessEvent,
  type WatchEvent,
} from '@executor/queues';
import type { PodClient } from './harness';

/** Calls a pod job of a session as the load balancer does (tenant `acme`). */
export function call<D extends JobDef<TSchema, TSchema>>(
  pod: PodClient,
  def: D,
  sessionId: string,
  payload: Record<string, unknown>,
  timeoutMs = 30_000,
): Promise<Static<D['result']>> {
  return pod.h.client.call(
    pod.queue,
    def,
    { sessionId, tenant: 'acme', ...payload } as Static<D['payload']>,
    { timeoutMs },
  );
}

export interface Received<E> {
  event: E;
  /** epoch ms the subscriber got it */
  at: number;
}

/** An execution with `stream`: the events as the subscriber got them, then the reply. */
export async function execStream(
  pod: PodClient,
  sessionId: string,
  code: string,
  opts: { context?: string; language?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<{ events: Array<Received<ExecutionEvent>>; result: ExecuteResult; repliedAt: number }> {
  const channel = streamChannel(pod.h.prefix, `x-${randomUUID()}`);
  const events: Array<Received<ExecutionEvent>> = [];
  const off = await pod.h.client.subscribe(channel, (e) =>
    events.push({ event: e as ExecutionEvent, at: preciseNow() }),
  );
  try {
    const result = await exec(pod, sessionId, code, { ...opts, stream: channel });
    return { events, result, repliedAt: preciseNow() };
  } finally {
    await off();
  }
}

export function exec(
  pod: PodClient,
  sessionId: string,
  code: string,
  opts: {
    context?: string;
    language?: string;
    timeoutMs?: number;
    stream?: string;
    env?: Record<string, string>;
  } = {},
): Promise<ExecuteResult> {
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return call(
    pod,
    PodJobDefs.execute,
    sessionId,
    {
      executionId: `e-${randomUUID()}`,
      code,
      timeoutMs,
      ...(opts.context ? { context: opts.context } : {}),
      ...(opts.language ? { language: opts.language } : {}),
      ...(opts.stream ? { stream: opts.stream } : {}),
      ...(opts.env ? { env: opts.env } : {}),
    },
    timeoutMs + 60_000,
  );
}

/** A started command: its events as they arrive, and its end. */
export interface Started {
  pid: number;
  procId: string;
  events: Array<Received<ProcessEvent>>;
  ended: Promise<ProcessEnd>;
  stdout(): string;
  stderr(): string;
  /** Resolves once the stdout seen so far matches. */
  waitStdout(re: RegExp): Promise<void>;
  unsubscribe(): Promise<void>;
}

export async function startProcess(
  pod: PodClient,
  sessionId: string,
  cmd: string,
  args: string[],
  opts: {
    stdin?: boolean;
    tag?: string;
    cwd?: string;
    envs?: Record<string, string>;
    timeoutMs?: number;
  } = {},
): Promise<Started> {
  const procId = `p-${randomUUID()}`;
  const events: Array<Received<ProcessEvent>> = [];
  let endResolve!: (e: ProcessEnd) => void;
  const ended = new Promise<ProcessEnd>((r) => (endResolve = r));
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  const text = (t: 'stdout' | 'stderr'): string =>
    Buffer.concat(
      events
        .filter((e) => e.event.t === t)
        .map((e) => Buffer.from((e.event as { data: string }).data, 'base64')),
    ).toString();
  const off = await pod.h.client.subscribe(procChannel(pod.h.prefix, sessionId, procId), (raw) => {
    const event = raw as ProcessEvent;
    events.push({ event, at: preciseNow() });
    if (event.t === 'end') {
      const { t: _t, ...end } = event;
      endResolve(end);
    }
    const out = text('stdout');
    for (const w of [...waiters]) {
      if (w.re.test(out)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const { pid } = await call(pod, PodJobDefs.processStart, sessionId, {
    procId,
    cmd,
    args,
    envs: opts.envs ?? {},
    stdin: opts.stdin ?? false,
    ...(opts.tag ? { tag: opts.tag } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  });
  return {
    pid,
    procId,
    events,
    ended,
    stdout: () => text('stdout'),
    stderr: () => text('stderr'),
    waitStdout: (re) =>
      re.test(text('stdout'))
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ re, resolve })),
    unsubscribe: off,
  };
}

/** fs.read through a pipe (read concurrently with the job). */
export async function readFile(
  pod: PodClient,
  sessionId: string,
  path: string,
  opts: { chunkBytes?: number; onChunk?: (n: number, ref: PipeRef) => Promise<void> } = {},
): Promise<{ data: Buffer; size: number }> {
  const pipe = createPipeRef(pod.h.prefix, opts.chunkBytes);
  const reading = (async () => {
    const parts: Buffer[] = [];
    let n = 0;
    for await (const c of readPipe(pod.h.commands, pipe, { timeoutMs: 20_000 })) {
      parts.push(c);
      await opts.onChunk?.(++n, pipe);
    }
    return Buffer.concat(parts);
  })();
  const job = call(pod, PodJobDefs.fsRead, sessionId, { path, pipe });
  const [r, data] = await Promise.all([
    job,
    reading.catch((e: unknown) => job.then(() => Promise.reject(e))),
  ]);
  return { data, size: r.size };
}

/** fs.write through a pipe (written concurrently with the job). */
export async function writeFile(
  pod: PodClient,
  sessionId: string,
  path: string,
  source: AsyncIterable<Buffer>,
  opts: { chunkBytes?: number; windowChunks?: number } = {},
): Promise<Static<typeof PodJobDefs.fsWrite.result>> {
  const pipe = createPipeRef(pod.h.prefix, opts.chunkBytes);
  const job = call(pod, PodJobDefs.fsWrite, sessionId, { path, pipe });
  const writing = writePipe(pod.h.commands, pipe, source, {
    windowChunks: opts.windowChunks,
    timeoutMs: 20_000,
  });
  const [r] = await Promise.all([job, writing.catch(() => undefined)]);
  return r;
}

export async function* bytes(buf: Buffer, piece = 64 * 1024): AsyncGenerator<Buffer> {
  for (let off = 0; off < buf.length; off += piece) yield buf.subarray(off, off + piece);
}

/** Subscribes to a watch's channel and starts it. */
export async function startWatch(
  pod: PodClient,
  sessionId: string,
  path: string,
  recursive: boolean,
): Promise<{
  watchId: string;
  events: WatchEvent[];
  waitFor: (pred: (e: WatchEvent) => boolean) => Promise<WatchEvent>;
  off: () => Promise<void>;
}> {
  const watchId = `w-${randomUUID()}`;
  const events: WatchEvent[] = [];
  const waiters: Array<{ pred: (e: WatchEvent) => boolean; resolve: (e: WatchEvent) => void }> = [];
  const off = await pod.h.client.subscribe(watchChannel(pod.h.prefix, sessionId, watchId), (raw) => {
    const e = raw as WatchEvent;
    events.push(e);
    for (const w of [...waiters]) {
      if (w.pred(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  });
  await call(pod, PodJobDefs.fsWatch, sessionId, { watchId, path, recursive });
  return {
    watchId,
    events,
    waitFor: (pred) => {
      const seen = events.find(pred);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ pred, resolve }));
    },
    off,
  };
}

/** Epoch milliseconds with sub-millisecond resolution (latency measurements against time.time()). */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}
