import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export type Handler = (
  req: RecordedRequest,
  res: ServerResponse,
  raw: IncomingMessage,
) => void | Promise<void>;

/** A real HTTP server on 127.0.0.1 with a swappable handler; records every request. */
export interface TestServer {
  url: string;
  requests: RecordedRequest[];
  /** Emits `request` (RecordedRequest) as each request arrives, before it is handled. */
  events: EventEmitter;
  handle(handler: Handler): void;
  close(): Promise<void>;
}

export async function startHttpServer(initial?: Handler): Promise<TestServer> {
  let handler: Handler =
    initial ?? ((_req, res) => sendJson(res, 404, { error: { code: 'not_found', message: 'no handler' } }));
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const events = new EventEmitter();
  const server: Server = createServer((raw, res) => {
    const chunks: Buffer[] = [];
    raw.on('data', (c: Buffer) => chunks.push(c));
    raw.on('end', () => {
      const req: RecordedRequest = {
        method: raw.method ?? '',
        url: raw.url ?? '',
        headers: raw.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(req);
      events.emit('request', req);
      Promise.resolve(handler(req, res, raw)).catch((err: Error) => {
        if (!res.headersSent)
          sendJson(res, 500, { error: { code: 'internal', message: `test handler failed: ${err.message}` } });
      });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    events,
    handle: (h) => {
      handler = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function apiError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { code, message, ...extra } }, headers);
}

/** Kills the connection without an answer (what a crashed or restarted server does). */
export function dropConnection(raw: IncomingMessage): void {
  raw.socket.destroy();
}
