import {
  ConflictError,
  ExecutorError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  TimeoutError,
  UnauthenticatedError,
  UnavailableError,
  errorFromResponse,
  parseRetryAfter,
} from './errors';

const CASES = [
  ['invalid_argument', 400, InvalidArgumentError],
  ['unauthenticated', 401, UnauthenticatedError],
  ['not_found', 404, NotFoundError],
  ['conflict', 409, ConflictError],
  ['payload_too_large', 413, PayloadTooLargeError],
  ['rate_limited', 429, RateLimitedError],
  ['unavailable', 503, UnavailableError],
  ['timeout', 504, TimeoutError],
  ['internal', 500, InternalError],
] as const;

describe('errorFromResponse', () => {
  it.each(CASES)('maps code %s (%i) to its class', (code, status, Ctor) => {
    const err = errorFromResponse({
      status,
      text: JSON.stringify({ error: { code, message: `m-${code}` } }),
      request: 'GET /v1/x',
    });
    expect(err).toBeInstanceOf(Ctor);
    expect(err).toBeInstanceOf(ExecutorError);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code, status, message: `m-${code}`, request: 'GET /v1/x', name: Ctor.name });
  });

  it.each(CASES.filter(([, status]) => status !== 500))(
    'falls back to the status when the body is not the API format (%s)',
    (code, status, Ctor) => {
      const err = errorFromResponse({ status, text: '<html>bad gateway</html>' });
      expect(err).toBeInstanceOf(Ctor);
      expect(err.code).toBe(code);
      expect(err.message).toBe(`HTTP ${status}: <html>bad gateway</html>`);
    },
  );

  it('maps unknown 5xx to InternalError and unknown 4xx to InvalidArgumentError', () => {
    expect(errorFromResponse({ status: 502, text: '' })).toBeInstanceOf(InternalError);
    expect(
      errorFromResponse({ status: 418, text: '{"error":{"code":"teapot","message":"short and stout"}}' }),
    ).toMatchObject({
      code: 'invalid_argument',
      message: 'short and stout',
    });
  });

  it('reads retryAfterSeconds from the error body, the top level or the Retry-After header', () => {
    const inBody = errorFromResponse({
      status: 503,
      text: '{"error":{"code":"unavailable","message":"x","retryAfterSeconds":4}}',
      retryAfterHeader: '9',
    });
    expect((inBody as UnavailableError).retryAfterSeconds).toBe(4);
    const top = errorFromResponse({
      status: 503,
      text: '{"error":{"code":"unavailable","message":"x"},"retryAfterSeconds":3}',
    });
    expect((top as UnavailableError).retryAfterSeconds).toBe(3);
    const header = errorFromResponse({
      status: 429,
      text: '{"error":{"code":"rate_limited","message":"x"}}',
      retryAfterHeader: '7',
    });
    expect((header as RateLimitedError).retryAfterSeconds).toBe(7);
  });

  it('keeps the parsed body', () => {
    const err = errorFromResponse({ status: 404, text: '{"error":{"code":"not_found","message":"gone"}}' });
    expect(err.body).toEqual({ error: { code: 'not_found', message: 'gone' } });
  });
});

describe('parseRetryAfter', () => {
  it('parses seconds and HTTP dates, ignores garbage', () => {
    expect(parseRetryAfter('2')).toBe(2);
    expect(parseRetryAfter(' 1.5 ')).toBe(1.5);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
