/**
 * A push → pull bridge for server streams: events pushed by a subscription are pulled by an async
 * generator; `close()` (client gone, end) finishes the iteration. Unbounded: its producers are
 * capped upstream (output caps of the executor).
 */
export class EventQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private wake?: () => void;
  private closed = false;

  push(item: T): void {
    if (this.closed) return;
    this.items.push(item);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      while (this.items.length) yield this.items.shift() as T;
      if (this.closed) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

/** Keepalive interval of a stream from `Keepalive-Ping-Interval` (seconds; envd's default 90 s). */
export function keepaliveMs(header: string | null): number {
  const s = Number(header);
  return Number.isFinite(s) && s >= 1 ? Math.min(s, 90) * 1000 : 90_000;
}

/**
 * The open server streams of a replica (watches, process streams): closed when the app shuts down,
 * so a long-lived stream (a watch, a long command) does not hold the HTTP server open.
 */
export class OpenStreams {
  private readonly closers = new Set<() => void>();
  private closing = false;

  /** Registers a stream; returns its unregister function. Closes it at once during shutdown. */
  add(close: () => void): () => void {
    if (this.closing) close();
    this.closers.add(close);
    return () => this.closers.delete(close);
  }

  closeAll(): void {
    this.closing = true;
    for (const c of [...this.closers]) c();
    this.closers.clear();
  }

  get size(): number {
    return this.closers.size;
  }
}

/**
 * Runs one server stream's life around `queue`: keepalives every `Keepalive-Ping-Interval`, a place in
 * `streams` (closed at shutdown), and the returned cleanup — once, on abort, at shutdown or when the
 * generator ends — which closes the queue and calls `onClose`. Cleanup must not wait for the
 * generator to resume: a client that left may never pull again.
 */
export function superviseStream(
  ctx: { signal: AbortSignal; requestHeader: Headers },
  streams: OpenStreams,
  queue: EventQueue<unknown>,
  onClose: () => void,
): () => void {
  const timer = setInterval(
    () => queue.push('keepalive'),
    keepaliveMs(ctx.requestHeader.get('keepalive-ping-interval')),
  );
  let cleaned = false;
  const cleanup = (): void => {
    if (cleaned) return;
    cleaned = true;
    clearInterval(timer);
    unregister();
    ctx.signal.removeEventListener('abort', cleanup);
    queue.close();
    onClose();
  };
  ctx.signal.addEventListener('abort', cleanup, { once: true });
  const unregister = streams.add(cleanup);
  return cleanup;
}
