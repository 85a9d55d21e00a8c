import type { CircuitState } from './options';

/** Thrown by `execute` without calling the function while the circuit is open (or half-open and full). */
export class CircuitOpenError extends Error {
  /** Error code, stable for callers that map errors to HTTP responses. */
  readonly code = 'CIRCUIT_OPEN';

  constructor(
    /** Name of the breaker that rejected the call. */
    readonly breakerName: string,
    /** Milliseconds until the circuit becomes half-open; 0 when it is half-open with every trial slot taken. */
    readonly retryAfterMs: number,
    /** State at rejection: `open`, or `half-open` with every trial slot in use. */
    readonly state: CircuitState,
  ) {
    super(
      state === 'open'
        ? `circuit "${breakerName}" is open; retry after ${retryAfterMs} ms`
        : `circuit "${breakerName}" is half-open and all trial requests are in flight`,
    );
    this.name = 'CircuitOpenError';
  }
}
