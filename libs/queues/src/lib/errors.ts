import { UnrecoverableError } from 'bullmq';

/**
 * Error codes a job can fail with. The first eight are the public API codes (API.md); the
 * load balancer maps them 1:1. `session_not_on_pod` tells the router the session must be
 * (re)opened on this pod first.
 */
export const JobErrorCodes = [
  'invalid_argument',
  'not_found',
  'conflict',
  'payload_too_large',
  'rate_limited',
  'unavailable',
  'timeout',
  'internal',
  'session_not_on_pod',
] as const;
export type JobErrorCode = (typeof JobErrorCodes)[number];

/**
 * A non-retriable job failure with a machine-readable code. Extends BullMQ's
 * UnrecoverableError so a worker never retries it. Serialised as `"<code>: <message>"`
 * (BullMQ keeps only the message as `failedReason`).
 */
export class JobError extends UnrecoverableError {
  constructor(
    readonly code: JobErrorCode,
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'JobError';
  }
}

/** Parses a failedReason / error message back into code and message (unknown → internal). */
export function parseJobError(reason: string | undefined): { code: JobErrorCode; message: string } {
  const text = reason ?? 'unknown error';
  const idx = text.indexOf(': ');
  if (idx > 0) {
    const code = text.slice(0, idx) as JobErrorCode;
    if ((JobErrorCodes as readonly string[]).includes(code)) return { code, message: text.slice(idx + 2) };
  }
  return { code: 'internal', message: text };
}
