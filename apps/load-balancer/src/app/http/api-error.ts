import type { JobErrorCode } from '@executor/queues';

/** The public error codes of API.md and their HTTP statuses. */
export const ApiErrorStatus = {
  invalid_argument: 400,
  unauthenticated: 401,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  timeout: 504,
  internal: 500,
} as const;
export type ApiErrorCode = keyof typeof ApiErrorStatus;

/** An error answered as `{"error": {"code", "message"}}` with the code's status. */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    /** For 503: seconds after which a retry may succeed. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get status(): number {
    return ApiErrorStatus[this.code];
  }
}

/** The body of every error response. */
export interface ErrorBody {
  error: { code: ApiErrorCode; message: string; retryAfterSeconds?: number };
}

export function errorBody(code: ApiErrorCode, message: string, retryAfterSeconds?: number): ErrorBody {
  return {
    error: retryAfterSeconds === undefined ? { code, message } : { code, message, retryAfterSeconds },
  };
}

/** Retry hint for "no healthy pod" answers when nothing better is known (one heartbeat period or two). */
export const DEFAULT_RETRY_AFTER_SECONDS = 2;

export const sessionNotFound = (id: string): ApiError =>
  new ApiError('not_found', `session "${id}" not found`);

/** A call to a session that is not on a pod (paused, or being paused). */
export const sessionPaused = (id: string, state: string): ApiError =>
  new ApiError('conflict', `session "${id}" is ${state}: resume it first`);

/** Maps a job error code (all but session_not_on_pod are API codes) to an ApiError. */
export function apiErrorFromJob(code: JobErrorCode, message: string): ApiError {
  if (code === 'session_not_on_pod') return new ApiError('unavailable', message, 1);
  if (code === 'unavailable') return new ApiError('unavailable', message, 1);
  return new ApiError(code, message);
}
