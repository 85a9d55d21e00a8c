import { HttpException, NotFoundException } from '@nestjs/common';
import { CircuitOpenError } from '@executor/circuit-breaker';
import { JobCallError, type JobErrorCode } from '@executor/queues';
import { ApiError } from './api-error';
import { mapError } from './exception.filter';

describe('mapError (every error leaves as {"error": {code, message}})', () => {
  it.each<[JobErrorCode, number, string]>([
    ['invalid_argument', 400, 'invalid_argument'],
    ['not_found', 404, 'not_found'],
    ['conflict', 409, 'conflict'],
    ['payload_too_large', 413, 'payload_too_large'],
    ['rate_limited', 429, 'rate_limited'],
    ['unavailable', 503, 'unavailable'],
    ['timeout', 504, 'timeout'],
    ['internal', 500, 'internal'],
    ['session_not_on_pod', 503, 'unavailable'],
  ])('maps job error %s to %i %s', (code, status, apiCode) => {
    const m = mapError(new JobCallError(code, 'detail', 'session.execute'));
    expect(m.status).toBe(status);
    expect(m.body.error.code).toBe(apiCode);
  });

  it('gives 503 a retryAfterSeconds and a Retry-After header', () => {
    const m = mapError(new CircuitOpenError('pool-a', 12_300, 'open'));
    expect(m).toMatchObject({
      status: 503,
      headers: { 'retry-after': '13' },
      body: { error: { code: 'unavailable', retryAfterSeconds: 13 } },
    });
    expect(mapError(new ApiError('unavailable', 'x', 4)).body.error.retryAfterSeconds).toBe(4);
  });

  it('maps Nest and fastify errors, and hides unknown ones', () => {
    expect(mapError(new NotFoundException('Cannot GET /x')).body).toEqual({
      error: { code: 'not_found', message: 'Cannot GET /x' },
    });
    expect(mapError(new HttpException('gone', 405)).status).toBe(404);
    expect(
      mapError(
        Object.assign(new Error('Request body is too large'), {
          code: 'FST_ERR_CTP_BODY_TOO_LARGE',
          statusCode: 413,
        }),
      ).body.error.code,
    ).toBe('payload_too_large');
    expect(
      mapError(
        Object.assign(new Error('Unsupported Media Type'), {
          code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
          statusCode: 415,
        }),
      ).status,
    ).toBe(400);
    const hidden = mapError(new TypeError('secret internals at /app/x.ts:12'));
    expect(hidden).toMatchObject({
      status: 500,
      internal: true,
      body: { error: { code: 'internal', message: 'internal error' } },
    });
    expect(mapError(new ApiError('unauthenticated', 'no key')).headers['www-authenticate']).toBe('Bearer');
  });
});
