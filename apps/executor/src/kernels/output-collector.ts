/**
 * Collects one stream (stdout or stderr) of a process for the current execution: keeps at most
 * `limit` bytes (the rest is drained and dropped, `truncated` set), and detects the end-of-cell
 * marker a kernel writes after each execution so that output written just before the reply is
 * never attributed to the wrong execution.
 */
export class OutputCollector {
  private chunks: Buffer[] = [];
  private kept = 0;
  private tail = Buffer.alloc(0);
  private marker: Buffer | undefined;
  private onMarker: (() => void) | undefined;
  private listener: ((data: Buffer) => void) | undefined;
  truncated = false;

  constructor(private readonly limit: number) {}

  /**
   * Starts a new execution: clears the buffer; `marker` (if any) ends it. `listener` (streaming) gets
   * each piece of output as soon as it is known not to be part of the marker, within the limit.
   */
  begin(marker?: string, onMarker?: () => void, listener?: (data: Buffer) => void): void {
    this.chunks = [];
    this.kept = 0;
    this.tail = Buffer.alloc(0);
    this.truncated = false;
    this.marker = marker === undefined ? undefined : Buffer.from(marker);
    this.onMarker = onMarker;
    this.listener = listener;
  }

  push(data: Buffer): void {
    if (!this.marker) {
      this.keep(data);
      return;
    }
    // Look for the marker across the chunk boundary (keep the last marker.length-1 bytes back).
    const joined = this.tail.length ? Buffer.concat([this.tail, data]) : data;
    const idx = joined.indexOf(this.marker);
    if (idx >= 0) {
      this.keep(joined.subarray(0, idx));
      this.marker = undefined;
      this.tail = Buffer.alloc(0);
      const cb = this.onMarker;
      this.onMarker = undefined;
      cb?.();
      return;
    }
    // Hold back only a suffix that could be the start of the marker (none for ordinary text), so
    // streamed output is never delayed until the next chunk.
    const hold = markerPrefixAtEnd(joined, this.marker);
    this.keep(joined.subarray(0, joined.length - hold));
    this.tail = Buffer.from(joined.subarray(joined.length - hold));
  }

  /** Releases the held-back tail (when the process died without writing the marker). */
  flush(): void {
    if (this.tail.length) this.keep(this.tail);
    this.tail = Buffer.alloc(0);
    this.marker = undefined;
    this.onMarker = undefined;
  }

  /** Stops calling the listener (the execution it streamed for is over). */
  detach(): void {
    this.listener = undefined;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  private keep(data: Buffer): void {
    if (data.length === 0) return;
    const room = this.limit - this.kept;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const part = data.length > room ? data.subarray(0, room) : data;
    if (part.length < data.length) this.truncated = true;
    const copy = Buffer.from(part);
    this.chunks.push(copy);
    this.kept += part.length;
    this.listener?.(copy);
  }
}

/** Length of the longest proper prefix of `marker` that `data` ends with. */
export function markerPrefixAtEnd(data: Buffer, marker: Buffer): number {
  const max = Math.min(data.length, marker.length - 1);
  const first = marker[0];
  for (let k = max; k > 0; k--) {
    const start = data.length - k;
    if (data[start] !== first) continue;
    if (data.subarray(start).equals(marker.subarray(0, k))) return k;
  }
  return 0;
}
