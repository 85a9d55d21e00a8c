import {
  AbortError,
  ExecutorError,
  NetworkError,
  RateLimitedError,
  TimeoutError,
  UnavailableError,
  errorFromResponse,
} from './errors.js';
import { SDK_VERSION } from './version.js';

/** Options every SDK call accepts (the last argument of each method). */
export interface RequestOptions {
  /** Aborts the call (including retries and the waits between them) with an {@link AbortError}. */
  signal?: AbortSignal;
  /** Timeout of each HTTP attempt (ms); default: the client's `timeoutMs`. */
  requestTimeoutMs?: number;
  /** Retries for this call; default: the client's `retries`. */
  retries?: number;
}

/** What `onRetry` is told before each wait. */
export interface RetryEvent {
  /** 1 for the first retry. */
  attempt: number;
  /** How long the client waits before that retry (ms). */
  delayMs: number;
  error: ExecutorError;
  method: HttpMethod;
  path: string;
}

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface TransportOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  retries: number;
  retryBaseDelayMs: number;
  maxRetryDelayMs: number;
  headers: Record<string, string>;
  fetch: typeof fetch;
  onRetry?: (event: RetryEvent) => void;
}

export interface Call {
  method: HttpMethod;
  /** Path under the base URL, already URL-encoded, starting with `/`. */
  path: string;
  json?: unknown;
  bytes?: Uint8Array;
  options?: RequestOptions;
  /** Default attempt timeout of this call when the caller gives none (e.g. executions). */
  timeoutMs?: number;
}

/** Methods whose repetition is harmless: retried after network errors and 504s too. */
const IDEMPOTENT: ReadonlySet<HttpMethod> = new Set<HttpMethod>(['GET', 'PUT', 'DELETE']);

/** The HTTP layer: auth, JSON, timeouts, abort, error mapping, retries with backoff. */
export class Transport {
  private readonly base: string;

  constructor(private readonly opts: TransportOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
  }

  get baseUrl(): string {
    return this.base;
  }

  async json<T>(call: Call): Promise<T> {
    const res = await this.send(call, 'json');
    return res as T;
  }

  async bytes(call: Call): Promise<Uint8Array> {
    return (await this.send(call, 'bytes')) as Uint8Array;
  }

  async none(call: Call): Promise<void> {
    await this.send(call, 'none');
  }

  /**
   * A streamed answer (`Accept: application/x-ndjson`): resolves once the response headers are in
   * (HTTP errors are thrown then, mapped like every other call), then yields one parsed JSON object
   * per line as it arrives. Never retried (a stream's call may have run). `timeoutMs` bounds the
   * whole stream; `signal` aborts it.
   */
  async stream(call: Call): Promise<AsyncGenerator<Record<string, unknown>>> {
    const request = describe(call);
    const timeoutMs = call.options?.requestTimeoutMs ?? call.timeoutMs ?? this.opts.timeoutMs;
    const userSignal = call.options?.signal;
    const ctrl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctrl.abort();
    }, timeoutMs);
    const onAbort = (): void => ctrl.abort();
    userSignal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = (): void => {
      clearTimeout(timer);
      userSignal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: unknown): ExecutorError => {
      if (err instanceof ExecutorError) return err;
      if (userSignal?.aborted)
        return new AbortError(undefined, { status: 0, request, cause: userSignal.reason });
      if (timedOut)
        return new TimeoutError(`${request}: no end within ${timeoutMs} ms (client request timeout)`, {
          status: 0,
          request,
        });
      return new NetworkError(`${request}: ${networkReason(err)} (${this.base})`, {
        status: 0,
        request,
        cause: err,
      });
    };
    let res: Response;
    try {
      res = await this.opts.fetch(this.base + call.path, {
        method: call.method,
        headers: {
          'user-agent': `executor-sdk/${SDK_VERSION} node/${process.version}`,
          ...this.opts.headers,
          accept: 'application/x-ndjson',
          authorization: `Bearer ${this.opts.apiKey}`,
          ...(call.json !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: call.json !== undefined ? JSON.stringify(call.json) : undefined,
        signal: ctrl.signal,
      });
      if (!res.ok) {
        const text = await res.text();
        throw errorFromResponse({
          status: res.status,
          text,
          retryAfterHeader: res.headers.get('retry-after'),
          request,
        });
      }
      if (!res.body)
        throw new ExecutorError('unknown', `${request}: the server answered without a body`, {
          status: res.status,
          request,
        });
    } catch (err) {
      cleanup();
      throw fail(err);
    }
    const body = res.body;
    return (async function* lines(): AsyncGenerator<Record<string, unknown>> {
      const decoder = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
          buf += decoder.decode(chunk, { stream: true });
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl).trim();
            buf = buf.slice(nl + 1);
            if (line) yield JSON.parse(line) as Record<string, unknown>;
          }
        }
        const rest = (buf + decoder.decode()).trim();
        if (rest) yield JSON.parse(rest) as Record<string, unknown>;
      } catch (err) {
        throw fail(err);
      } finally {
        cleanup();
        ctrl.abort();
      }
    })();
  }

  private async send(call: Call, expect: 'json' | 'bytes' | 'none'): Promise<unknown> {
    const signal = call.options?.signal;
    const retries = call.options?.retries ?? this.opts.retries;
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted)
        throw new AbortError(undefined, { status: 0, request: describe(call), cause: signal.reason });
      try {
        return await this.attempt(call, expect);
      } catch (err) {
        const error = err as ExecutorError;
        if (attempt >= retries || !isRetryable(error, call.method)) throw error;
        const delayMs = this.delayFor(error, attempt);
        if (delayMs === undefined) throw error;
        this.opts.onRetry?.({ attempt: attempt + 1, delayMs, error, method: call.method, path: call.path });
        await sleep(delayMs, signal, describe(call));
      }
    }
  }

  /** Wait before the retry after `attempt`: the server's hint, else exponential backoff with jitter. */
  private delayFor(error: ExecutorError, attempt: number): number | undefined {
    const hint = (error as UnavailableError | RateLimitedError).retryAfterSeconds;
    if (typeof hint === 'number') {
      const ms = Math.ceil(hint * 1000);
      // A server asking for a longer pause than we accept to wait: give the error to the caller.
      return ms > this.opts.maxRetryDelayMs ? undefined : ms;
    }
    const exp = Math.min(this.opts.maxRetryDelayMs, this.opts.retryBaseDelayMs * 2 ** attempt);
    return Math.round(exp * (0.5 + Math.random() * 0.5));
  }

  private async attempt(call: Call, expect: 'json' | 'bytes' | 'none'): Promise<unknown> {
    const request = describe(call);
    const timeoutMs = call.options?.requestTimeoutMs ?? call.timeoutMs ?? this.opts.timeoutMs;
    const userSignal = call.options?.signal;
    const ctrl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctrl.abort();
    }, timeoutMs);
    const onAbort = (): void => ctrl.abort();
    userSignal?.addEventListener('abort', onAbort, { once: true });
    const fail = (err: unknown): ExecutorError => {
      if (err instanceof ExecutorError) return err;
      if (userSignal?.aborted)
        return new AbortError(undefined, { status: 0, request, cause: userSignal.reason });
      if (timedOut)
        return new TimeoutError(`${request}: no answer within ${timeoutMs} ms (client request timeout)`, {
          status: 0,
          request,
        });
      return new NetworkError(`${request}: ${networkReason(err)} (${this.base})`, {
        status: 0,
        request,
        cause: err,
      });
    };
    try {
      const headers: Record<string, string> = {
        accept: 'application/json',
        'user-agent': `executor-sdk/${SDK_VERSION} node/${process.version}`,
        ...this.opts.headers,
        authorization: `Bearer ${this.opts.apiKey}`,
      };
      let body: string | Uint8Array | undefined;
      if (call.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(call.json);
      } else if (call.bytes !== undefined) {
        headers['content-type'] = 'application/octet-stream';
        body = call.bytes;
      }
      const res = await this.opts.fetch(this.base + call.path, {
        method: call.method,
        headers,
        body,
        signal: ctrl.signal,
      });
      if (!res.ok) {
        const text = await res.text();
        throw errorFromResponse({
          status: res.status,
          text,
          retryAfterHeader: res.headers.get('retry-after'),
          request,
        });
      }
      if (expect === 'bytes') return new Uint8Array(await res.arrayBuffer());
      const text = await res.text();
      if (expect === 'none' || text === '') return undefined;
      try {
        return JSON.parse(text);
      } catch {
        throw new ExecutorError(
          'unknown',
          `${request}: the server answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`,
          {
            status: res.status,
            body: text,
            request,
          },
        );
      }
    } catch (err) {
      throw fail(err);
    } finally {
      clearTimeout(timer);
      userSignal?.removeEventListener('abort', onAbort);
    }
  }
}

function describe(call: Call): string {
  return `${call.method} ${call.path}`;
}

/**
 * Retry policy: 503 and 429 mean the request was not processed, so every method is retried
 * (an execution included); network errors and 504s only for idempotent methods (GET/PUT/DELETE):
 * an execution is never sent twice after its fate became unknown.
 */
export function isRetryable(error: ExecutorError, method: HttpMethod): boolean {
  if (error instanceof UnavailableError || error instanceof RateLimitedError) return true;
  if (!IDEMPOTENT.has(method)) return false;
  if (error instanceof NetworkError) return true;
  return error instanceof TimeoutError && error.status === 504;
}

function networkReason(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const code = e?.cause?.code;
  const msg = e?.cause?.message ?? e?.message ?? String(err);
  return code && !msg.includes(code) ? `${code} ${msg}` : msg;
}

function sleep(ms: number, signal: AbortSignal | undefined, request: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted)
      return reject(new AbortError(undefined, { status: 0, request, cause: signal.reason }));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortError(undefined, { status: 0, request, cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
