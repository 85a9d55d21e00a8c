import { InvalidArgumentError } from './errors.js';
import { Transport, type RequestOptions, type RetryEvent } from './http.js';
import { seg } from './paths.js';
import { Session } from './session.js';
import type { CreateSessionParams, PoolInfo, RegisterPoolParams, SessionInfo } from './types.js';

export interface ClientOptions {
  /** Base URL of the load balancer, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** API key (sent as `Authorization: Bearer <key>`). */
  apiKey: string;
  /** Timeout of each HTTP attempt in ms (default 60 000). Executions wait their own `timeoutMs` + 30 s instead. */
  timeoutMs?: number;
  /** Retries after a retryable failure (default 3; see README "Retries"). */
  retries?: number;
  /** First backoff delay in ms, doubled on each retry, with jitter (default 250). */
  retryBaseDelayMs?: number;
  /** Longest wait before a retry in ms; a server asking for a longer `Retry-After` is not retried (default 30 000). */
  maxRetryDelayMs?: number;
  /** Region hint sent as `X-Client-Region` on every request (default none). */
  region?: string;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
  /** Called before each retry (logging, metrics). */
  onRetry?: (event: RetryEvent) => void;
  /** The fetch implementation (default: the global `fetch` of Node ≥ 20). */
  fetch?: typeof fetch;
}

export interface CreateSessionOptions extends CreateSessionParams, RequestOptions {}

/** Pools of executor pods (what `GET /v1/pools` shows; registration is normally the operator's job). */
export class Pools {
  constructor(private readonly http: Transport) {}

  async list(options?: RequestOptions): Promise<PoolInfo[]> {
    const res = await this.http.json<{ items: PoolInfo[] }>({ method: 'GET', path: '/v1/pools', options });
    return res.items;
  }

  /** One pool with per-pod detail (`podDetails`). */
  get(name: string, options?: RequestOptions): Promise<PoolInfo> {
    return this.http.json<PoolInfo>({ method: 'GET', path: `/v1/pools/${seg(name, 'pool name')}`, options });
  }

  /** Registers a pool (ConflictError if it exists). */
  register(params: RegisterPoolParams, options?: RequestOptions): Promise<PoolInfo> {
    return this.http.json<PoolInfo>({ method: 'POST', path: '/v1/pools', json: params, options });
  }

  /** Deregisters a pool: no new sessions go there. */
  deregister(name: string, options?: RequestOptions): Promise<void> {
    return this.http.none({ method: 'DELETE', path: `/v1/pools/${seg(name, 'pool name')}`, options });
  }
}

/** Client of the executor platform's public API. */
export class ExecutorClient {
  readonly pools: Pools;
  private readonly http: Transport;

  constructor(options: ClientOptions) {
    validateOptions(options);
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function')
      throw new InvalidArgumentError('no fetch: Node ≥ 20 is required (or pass options.fetch)', {
        status: 0,
      });
    this.http = new Transport({
      baseUrl: options.baseUrl,
      apiKey: options.apiKey,
      timeoutMs: options.timeoutMs ?? 60_000,
      retries: options.retries ?? 3,
      retryBaseDelayMs: options.retryBaseDelayMs ?? 250,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
      headers: { ...(options.region ? { 'x-client-region': options.region } : {}), ...options.headers },
      fetch: fetchImpl,
      onRetry: options.onRetry,
    });
    this.pools = new Pools(this.http);
  }

  get baseUrl(): string {
    return this.http.baseUrl;
  }

  /** Creates a session on a healthy pod of the template's pool. */
  async createSession(options: CreateSessionOptions): Promise<Session> {
    const { signal, requestTimeoutMs, retries, ...params } = options;
    const body: CreateSessionParams = { template: params.template };
    for (const key of ['region', 'persist', 'ttlSeconds', 'env', 'metadata'] as const) {
      if (params[key] !== undefined) (body as unknown as Record<string, unknown>)[key] = params[key];
    }
    const info = await this.http.json<SessionInfo>({
      method: 'POST',
      path: '/v1/sessions',
      json: body,
      options: { signal, requestTimeoutMs, retries },
    });
    return new Session(this.http, info);
  }

  /** An existing session of this tenant (NotFoundError if absent, expired or another tenant's). */
  async getSession(id: string, options?: RequestOptions): Promise<Session> {
    const info = await this.http.json<SessionInfo>({
      method: 'GET',
      path: `/v1/sessions/${seg(id, 'session id')}`,
      options,
    });
    return new Session(this.http, info);
  }

  /** Deletes a session by id (NotFoundError if it does not exist; `Session.close()` ignores that). */
  deleteSession(id: string, options?: RequestOptions): Promise<void> {
    return this.http.none({ method: 'DELETE', path: `/v1/sessions/${seg(id, 'session id')}`, options });
  }

  /** This tenant's sessions. */
  async listSessions(options?: RequestOptions): Promise<Session[]> {
    const res = await this.http.json<{ items: SessionInfo[] }>({
      method: 'GET',
      path: '/v1/sessions',
      options,
    });
    return res.items.map((info) => new Session(this.http, info));
  }
}

function validateOptions(options: ClientOptions): void {
  if (!options || typeof options !== 'object')
    throw new InvalidArgumentError('ExecutorClient: options are required', { status: 0 });
  let url: URL;
  try {
    url = new URL(options.baseUrl);
  } catch {
    throw new InvalidArgumentError(
      `ExecutorClient: baseUrl ${JSON.stringify(options.baseUrl)} is not a URL`,
      { status: 0 },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`ExecutorClient: baseUrl must be http(s), got ${url.protocol}`, {
      status: 0,
    });
  }
  if (typeof options.apiKey !== 'string' || options.apiKey.length === 0) {
    throw new InvalidArgumentError('ExecutorClient: apiKey is required', { status: 0 });
  }
  const nonNegative = (
    name: 'timeoutMs' | 'retries' | 'retryBaseDelayMs' | 'maxRetryDelayMs',
    min: number,
  ): void => {
    const v = options[name];
    if (v !== undefined && (!Number.isFinite(v) || v < min)) {
      throw new InvalidArgumentError(`ExecutorClient: ${name} must be a number ≥ ${min}, got ${String(v)}`, {
        status: 0,
      });
    }
  };
  nonNegative('timeoutMs', 1);
  nonNegative('retries', 0);
  nonNegative('retryBaseDelayMs', 0);
  nonNegative('maxRetryDelayMs', 0);
}
