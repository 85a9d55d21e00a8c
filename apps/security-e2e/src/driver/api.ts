import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** A small client for the public API (deliberately not the SDK): raw status, headers and body. */
export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
  raw: Buffer;
  ms: number;
}

export interface RequestOptions {
  raw?: Buffer | string;
  /** Send the body as is with this content type (default: JSON for objects, octet-stream for raw). */
  contentType?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Answer 429 to the caller instead of waiting Retry-After and trying again. */
  no429Retry?: boolean;
  /** Authorization header value; `null` sends none. Default: `Bearer <key>`. */
  authorization?: string | null;
}

export interface Session {
  id: string;
  template: string;
  pool: string;
  pod: string;
  status: string;
  env: Record<string, string>;
}

export interface Execution {
  id: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  truncated: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Api {
  constructor(
    readonly baseUrl: string,
    readonly apiKey: string,
    readonly label: string,
  ) {}

  /**
   * One request. A 429 (and a 503 carrying retryAfterSeconds) is waited out (Retry-After, at most
   * 60 s in total) unless `no429Retry`: the platform's default limits apply to this suite too, and
   * a well-behaved client waits.
   */
  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    opts: RequestOptions = {},
  ): Promise<ApiResponse<T>> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const r = await this.once<T>(method, path, body, opts);
      // 503 with retryAfterSeconds (an open circuit, a pod coming back) is waited out like a 429
      const retry503 =
        r.status === 503 &&
        typeof (r.body as { retryAfterSeconds?: unknown })?.retryAfterSeconds === 'number';
      if ((r.status !== 429 && !retry503) || opts.no429Retry || Date.now() > deadline) return r;
      const after = Number(
        r.headers.get('retry-after') ?? (r.body as { retryAfterSeconds?: number }).retryAfterSeconds ?? '1',
      );
      await sleep(Math.min(Math.max(Number.isFinite(after) ? after : 1, 0.2), 30) * 1000);
    }
  }

  private async once<T>(
    method: string,
    path: string,
    body: unknown,
    opts: RequestOptions,
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.authorization !== null) headers['authorization'] = opts.authorization ?? `Bearer ${this.apiKey}`;
    let payload: Buffer | string | undefined;
    if (opts.raw !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/octet-stream';
      payload = opts.raw;
    } else if (body !== undefined) {
      headers['content-type'] = opts.contentType ?? 'application/json';
      payload = JSON.stringify(body);
    }
    const started = performance.now();
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: payload,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000),
    });
    const raw = Buffer.from(await res.arrayBuffer());
    const ms = performance.now() - started;
    let parsed: unknown = undefined;
    if ((res.headers.get('content-type') ?? '').includes('json') && raw.length) {
      try {
        parsed = JSON.parse(raw.toString());
      } catch {
        parsed = undefined;
      }
    }
    return { status: res.status, body: parsed as T, headers: res.headers, raw, ms };
  }

  /**
   * A request whose path is sent byte for byte (fetch would resolve `..` and `%2e%2e` segments
   * before they reach the server).
   */
  rawPath(
    method: string,
    path: string,
    body?: Buffer,
    timeoutMs = 30_000,
    contentType = 'application/octet-stream',
  ): Promise<{ status: number; body: Buffer; timedOut: boolean }> {
    const url = new URL(this.baseUrl);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(
        {
          host: url.hostname,
          port: url.port || (url.protocol === 'https:' ? 443 : 80),
          method,
          path,
          headers: {
            authorization: `Bearer ${this.apiKey}`,
            ...(body ? { 'content-type': contentType, 'content-length': body.length } : {}),
          },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), timedOut: false }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => {
        req.destroy();
        resolve({ status: 0, body: Buffer.alloc(0), timedOut: true });
      });
      let answered = false;
      req.on('response', () => (answered = true));
      // a server may answer (413) and close before the upload ends: that answer is what counts
      req.on('error', (err) => (answered || req.destroyed ? undefined : reject(err)));
      if (!body || body.length < 1 << 20) {
        req.end(body);
        return;
      }
      // large bodies: headers first, and a moment for an early answer before the bytes follow
      req.flushHeaders();
      setTimeout(() => {
        if (!answered && !req.destroyed) req.end(body);
      }, 1000);
    });
  }

  async createSession(body: Record<string, unknown>): Promise<Session> {
    const r = await this.request<Session>('POST', '/v1/sessions', body);
    if (r.status !== 201)
      throw new Error(`${this.label}: create session: HTTP ${r.status} ${r.raw.toString()}`);
    return r.body;
  }

  async deleteSession(id: string): Promise<void> {
    await this.request('DELETE', `/v1/sessions/${id}`);
  }

  async execute(id: string, code: string, extra: Record<string, unknown> = {}): Promise<Execution> {
    // the client waits longer than the execution's own timeout (plus the platform's grace)
    const timeoutMs = (typeof extra['timeoutMs'] === 'number' ? extra['timeoutMs'] : 30_000) + 90_000;
    const r = await this.request<Execution>(
      'POST',
      `/v1/sessions/${id}/executions`,
      { code, ...extra },
      { timeoutMs },
    );
    if (r.status !== 200) throw new Error(`${this.label}: execute: HTTP ${r.status} ${r.raw.toString()}`);
    return r.body;
  }
}
