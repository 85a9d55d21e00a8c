/**
 * The outcomes a reconcile can signal besides success (as kopf's TemporaryError/PermanentError).
 * Any other thrown error is treated like a TemporaryError with exponential backoff.
 */

/** Retry later: after `delayMs` when given, else after the work queue's exponential backoff. */
export class TemporaryError extends Error {
  constructor(
    message: string,
    readonly delayMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TemporaryError';
  }
}

/** Do not retry: nothing changes until the object does (e.g. an invalid spec). `field` names the culprit. */
export class PermanentError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'PermanentError';
  }
}
