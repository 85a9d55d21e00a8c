import type { ServerResponse } from 'node:http';

/** Streamed response formats of the API (`Accept` header). */
export type StreamFormat = 'sse' | 'ndjson';

export const NDJSON = 'application/x-ndjson';
export const SSE = 'text/event-stream';

/** The streamed format the client asked for, or undefined for a plain JSON answer. */
export function streamFormat(accept: string | string[] | undefined): StreamFormat | undefined {
  const a = (Array.isArray(accept) ? accept.join(',') : (accept ?? '')).toLowerCase();
  if (a.includes(SSE)) return 'sse';
  if (a.includes(NDJSON)) return 'ndjson';
  return undefined;
}

/**
 * Writes events to a raw response as they happen: headers at once (200, no buffering by proxies),
 * then one whole event per write — SSE (`event: <type>` + `data: <json>`) or NDJSON
 * (`{"type": <type>, ...data}` per line, never an empty line).
 */
export class EventStreamWriter {
  private ended = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly format: StreamFormat,
  ) {
    res.writeHead(200, {
      'content-type': format === 'sse' ? `${SSE}; charset=utf-8` : NDJSON,
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    res.flushHeaders();
  }

  /** True once the client went away (further events are dropped). */
  get closed(): boolean {
    return this.ended || this.res.destroyed;
  }

  send(type: string, data: Record<string, unknown>): void {
    if (this.closed) return;
    this.res.write(
      this.format === 'sse'
        ? `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`
        : `${JSON.stringify({ type, ...data })}\n`,
    );
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.res.destroyed) this.res.end();
  }
}
