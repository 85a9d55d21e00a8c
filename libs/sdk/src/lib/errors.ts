/**
 * Typed errors. Every API error (`{"error": {"code", "message"}}`) becomes the subclass of
 * {@link ExecutorError} for its code; failures that never got an HTTP answer are
 * {@link NetworkError}, {@link AbortError} or a client-side {@link TimeoutError} (status 0).
 */

/** The error codes of the public API (API.md), plus the client-side ones. */
export type ApiErrorCode =
  | 'invalid_argument'
  | 'unauthenticated'
  | 'permission_denied'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'rate_limited'
  | 'unavailable'
  | 'timeout'
  | 'internal';

export type ErrorCode = ApiErrorCode | 'network_error' | 'aborted' | 'unknown';

export interface ExecutorErrorDetails {
  /** HTTP status; 0 when no HTTP answer was received. */
  status: number;
  /** The parsed error body (or raw text) the server sent, if any. */
  body?: unknown;
  /** `METHOD path` of the request that failed. */
  request?: string;
  /** Seconds after which a retry may succeed (503 / 429). */
  retryAfterSeconds?: number;
  cause?: unknown;
}

/** Base class of every error the SDK throws. */
export class ExecutorError extends Error {
  override readonly name: string = 'ExecutorError';
  readonly status: number;
  readonly body?: unknown;
  readonly request?: string;

  constructor(
    readonly code: ErrorCode,
    message: string,
    details: ExecutorErrorDetails = { status: 0 },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.status = details.status;
    this.body = details.body;
    this.request = details.request;
  }
}

/** 400: bad JSON, wrong types, unknown template, a path escaping the workspace. */
export class InvalidArgumentError extends ExecutorError {
  override readonly name = 'InvalidArgumentError';
  constructor(message: string, details: ExecutorErrorDetails = { status: 400 }) {
    super('invalid_argument', message, details);
  }
}

/** 401: missing or unknown API key. */
export class UnauthenticatedError extends ExecutorError {
  override readonly name = 'UnauthenticatedError';
  constructor(message: string, details: ExecutorErrorDetails = { status: 401 }) {
    super('unauthenticated', message, details);
  }
}

/** 403: the key's role may not do this (a tenant key on pool management or the admin UI, an admin key on sessions). */
export class PermissionDeniedError extends ExecutorError {
  override readonly name = 'PermissionDeniedError';
  constructor(message: string, details: ExecutorErrorDetails = { status: 403 }) {
    super('permission_denied', message, details);
  }
}

/** 404: no such session (or another tenant's, or expired), file or pool. */
export class NotFoundError extends ExecutorError {
  override readonly name = 'NotFoundError';
  constructor(message: string, details: ExecutorErrorDetails = { status: 404 }) {
    super('not_found', message, details);
  }
}

/** 409: e.g. a pool that is already registered. */
export class ConflictError extends ExecutorError {
  override readonly name = 'ConflictError';
  constructor(message: string, details: ExecutorErrorDetails = { status: 409 }) {
    super('conflict', message, details);
  }
}

/** 413: code over 1 MiB, a file over the size limit. */
export class PayloadTooLargeError extends ExecutorError {
  override readonly name = 'PayloadTooLargeError';
  constructor(message: string, details: ExecutorErrorDetails = { status: 413 }) {
    super('payload_too_large', message, details);
  }
}

/** 429. */
export class RateLimitedError extends ExecutorError {
  override readonly name = 'RateLimitedError';
  readonly retryAfterSeconds?: number;
  constructor(message: string, details: ExecutorErrorDetails = { status: 429 }) {
    super('rate_limited', message, details);
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

/** 503: no healthy pool/pod for the request; `retryAfterSeconds` says when to try again. */
export class UnavailableError extends ExecutorError {
  override readonly name = 'UnavailableError';
  readonly retryAfterSeconds?: number;
  constructor(message: string, details: ExecutorErrorDetails = { status: 503 }) {
    super('unavailable', message, details);
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

/**
 * 504: the platform did not answer in time; or (status 0) the request timeout of this client
 * expired. A user's code running too long is not an error: it is `timedOut: true` on the result.
 */
export class TimeoutError extends ExecutorError {
  override readonly name = 'TimeoutError';
  constructor(message: string, details: ExecutorErrorDetails = { status: 504 }) {
    super('timeout', message, details);
  }
}

/** 500 (and any other 5xx the API does not name). */
export class InternalError extends ExecutorError {
  override readonly name = 'InternalError';
  constructor(message: string, details: ExecutorErrorDetails = { status: 500 }) {
    super('internal', message, details);
  }
}

/** No HTTP answer: connection refused/reset, DNS failure, a body that could not be read. */
export class NetworkError extends ExecutorError {
  override readonly name = 'NetworkError';
  constructor(message: string, details: ExecutorErrorDetails = { status: 0 }) {
    super('network_error', message, details);
  }
}

/** The caller's AbortSignal fired. */
export class AbortError extends ExecutorError {
  override readonly name = 'AbortError';
  constructor(message = 'the request was aborted', details: ExecutorErrorDetails = { status: 0 }) {
    super('aborted', message, details);
  }
}

type ErrorCtor = new (message: string, details: ExecutorErrorDetails) => ExecutorError;

const BY_CODE: Record<ApiErrorCode, ErrorCtor> = {
  invalid_argument: InvalidArgumentError,
  unauthenticated: UnauthenticatedError,
  permission_denied: PermissionDeniedError,
  not_found: NotFoundError,
  conflict: ConflictError,
  payload_too_large: PayloadTooLargeError,
  rate_limited: RateLimitedError,
  unavailable: UnavailableError,
  timeout: TimeoutError,
  internal: InternalError,
};

const BY_STATUS: Record<number, ApiErrorCode> = {
  400: 'invalid_argument',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  429: 'rate_limited',
  503: 'unavailable',
  504: 'timeout',
};

export function isApiErrorCode(code: unknown): code is ApiErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(BY_CODE, code);
}

/** Parses a `Retry-After` header: delay-seconds or an HTTP date. */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
}

export interface HttpErrorInput {
  status: number;
  /** Response text (the SDK tries to parse it as the API's error JSON). */
  text: string;
  retryAfterHeader?: string | null;
  request?: string;
}

/**
 * Turns an error response into the typed error: the body's `error.code` decides the class; when
 * the body is not the API's format (a proxy's HTML page…), the HTTP status does.
 */
export function errorFromResponse({
  status,
  text,
  retryAfterHeader,
  request,
}: HttpErrorInput): ExecutorError {
  let body: unknown = text;
  let code: ApiErrorCode | undefined;
  let message: string | undefined;
  let retryAfterSeconds: number | undefined;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: keep the text */
  }
  const err = (body as { error?: { code?: unknown; message?: unknown; retryAfterSeconds?: unknown } } | null)
    ?.error;
  if (err && typeof err === 'object') {
    if (isApiErrorCode(err.code)) code = err.code;
    if (typeof err.message === 'string') message = err.message;
    if (typeof err.retryAfterSeconds === 'number') retryAfterSeconds = err.retryAfterSeconds;
  }
  const top = (body as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
  if (retryAfterSeconds === undefined && typeof top === 'number') retryAfterSeconds = top;
  retryAfterSeconds ??= parseRetryAfter(retryAfterHeader);
  code ??= BY_STATUS[status] ?? (status >= 500 ? 'internal' : 'invalid_argument');
  if (!message) {
    const snippet = typeof body === 'string' ? body.trim().slice(0, 200) : '';
    message = `HTTP ${status}${snippet ? `: ${snippet}` : ''}`;
  }
  const Ctor = BY_CODE[code];
  return new Ctor(message, { status, body, request, retryAfterSeconds });
}
