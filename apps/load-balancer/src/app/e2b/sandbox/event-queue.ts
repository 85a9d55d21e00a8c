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
