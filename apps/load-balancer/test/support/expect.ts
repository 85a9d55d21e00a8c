import type { Response } from 'supertest';

/** Asserts the API's error format: `{"error": {"code", "message"}}`, no stack trace. */
export function expectApiError(res: Response, status: number, code: string, message?: RegExp): void {
  const ctx = `${res.status} ${res.text.slice(0, 300)}`;
  expect({ status: res.status, ctx }).toEqual({ status, ctx });
  expect(res.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
  if (message) expect(res.body.error.message).toMatch(message);
  expect(res.text).not.toMatch(/\bat [\w.<>]+ \(|node_modules|\.ts:\d+/);
  if (status === 503) expect(res.body.error.retryAfterSeconds).toBeGreaterThan(0);
}
