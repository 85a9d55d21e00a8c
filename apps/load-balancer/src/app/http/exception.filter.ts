import { ArgumentsHost, Catch, HttpException, Logger, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { JobCallError } from '@executor/queues';
import { CircuitOpenError } from '@executor/circuit-breaker';
import { ApiError, apiErrorFromJob, errorBody, type ApiErrorCode, type ErrorBody } from './api-error';

const STATUS_CODES: Record<number, ApiErrorCode> = {
  400: 'invalid_argument',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  405: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'invalid_argument',
  429: 'rate_limited',
  503: 'unavailable',
  504: 'timeout',
};

/** Fastify's own error codes (parsers, limits) that are the client's fault. */
const FASTIFY_CLIENT_ERRORS: Record<string, ApiErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'invalid_argument',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_argument',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_argument',
  FST_ERR_CTP_INVALID_TYPE: 'invalid_argument',
  FST_ERR_BAD_URL: 'invalid_argument',
  FST_ERR_ASYNC_CONSTRAINT: 'invalid_argument',
};

export interface MappedError {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** True for 5xx that are our fault (logged). */
  internal: boolean;
}

/** Turns anything thrown into the API's error format. Never exposes a stack trace. */
export function mapError(err: unknown): MappedError {
  const api = toApiError(err);
  const headers: Record<string, string> = {};
  if (api.retryAfterSeconds !== undefined) headers['retry-after'] = String(api.retryAfterSeconds);
  if (api.code === 'unauthenticated') headers['www-authenticate'] = 'Bearer';
  return {
    status: api.status,
    body: errorBody(
      api.code,
      api.message,
      api.code === 'unavailable' ? (api.retryAfterSeconds ?? 1) : api.retryAfterSeconds,
    ),
    headers,
    internal: api.code === 'internal',
  };
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof JobCallError) return apiErrorFromJob(err.code, err.message);
  if (err instanceof CircuitOpenError) {
    return new ApiError('unavailable', err.message, Math.max(1, Math.ceil(err.retryAfterMs / 1000)));
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const code = STATUS_CODES[status] ?? (status >= 500 ? 'internal' : 'invalid_argument');
    const resp = err.getResponse();
    const message =
      typeof resp === 'object' && resp && 'message' in resp
        ? String((resp as { message: unknown }).message)
        : err.message;
    if (status === 503) {
      // terminus readiness failure: keep the API format
      return new ApiError(
        'unavailable',
        typeof resp === 'object' ? `not ready: ${JSON.stringify(resp)}` : message,
        1,
      );
    }
    return new ApiError(code, message);
  }
  const e = err as { code?: unknown; statusCode?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && e.code in FASTIFY_CLIENT_ERRORS) {
    return new ApiError(FASTIFY_CLIENT_ERRORS[e.code] as ApiErrorCode, String(e.message));
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(STATUS_CODES[e.statusCode] ?? 'invalid_argument', String(e.message ?? 'bad request'));
  }
  return new ApiError('internal', 'internal error');
}

/** Global Nest filter: every error leaves as `{"error": {...}}`. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(ApiExceptionFilter.name);

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const mapped = mapError(exception);
    if (mapped.internal)
      this.logger.error(
        exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
      );
    void reply.status(mapped.status).headers(mapped.headers).send(mapped.body);
  }
}
