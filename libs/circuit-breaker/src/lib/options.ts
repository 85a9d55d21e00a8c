import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/** The three states of a breaker (exported constants; compare against these, not string literals). */
export const CircuitState = {
  Closed: 'closed',
  Open: 'open',
  HalfOpen: 'half-open',
} as const;
export type CircuitState = (typeof CircuitState)[keyof typeof CircuitState];

/** The seed's numbers (FEATURES2-4-SUMMARY: 5 consecutive failures, 30 s recovery, 3 trial requests). */
export const DEFAULT_FAILURE_THRESHOLD = 5;
export const DEFAULT_RECOVERY_TIMEOUT_MS = 30_000;
export const DEFAULT_HALF_OPEN_REQUESTS = 3;

/** Why a transition happened (exported constants, used in {@link StateChangeEvent.reason}). */
export const TransitionReason = {
  /** `failureThreshold` consecutive failures while closed. */
  FailureThreshold: 'FailureThreshold',
  /** `recoveryTimeoutMs` elapsed while open. */
  RecoveryTimeout: 'RecoveryTimeout',
  /** Every trial call of the half-open state succeeded. */
  TrialsSucceeded: 'TrialsSucceeded',
  /** A trial call failed while half-open. */
  TrialFailed: 'TrialFailed',
  /** `reset()` was called. */
  Reset: 'Reset',
} as const;
export type TransitionReason = (typeof TransitionReason)[keyof typeof TransitionReason];

/** Emitted (event `stateChange`, and the `onStateChange` callback) once per transition. */
export interface StateChangeEvent {
  name: string;
  from: CircuitState;
  to: CircuitState;
  reason: TransitionReason;
  /** Clock value (`now()`) when the transition was observed. */
  at: number;
}

/** The numeric options; validated with TypeBox at construction. */
export const CircuitBreakerNumericOptionsSchema = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1 })),
  failureThreshold: Type.Optional(Type.Integer({ minimum: 1 })),
  recoveryTimeoutMs: Type.Optional(Type.Number({ minimum: 0 })),
  halfOpenRequests: Type.Optional(Type.Integer({ minimum: 1 })),
});

export interface CircuitBreakerOptions extends Static<typeof CircuitBreakerNumericOptionsSchema> {
  /** Name used in errors, events and metrics. Default `'default'`. */
  name?: string;
  /** Consecutive failures (while closed) that open the circuit. Default 5. */
  failureThreshold?: number;
  /** Time the circuit stays open before it becomes half-open, in ms. Default 30 000. */
  recoveryTimeoutMs?: number;
  /** Trial calls let through while half-open; all must succeed to close. Default 3. */
  halfOpenRequests?: number;
  /**
   * Which errors count as failures of the protected dependency. Default: every error.
   * Errors for which it returns `false` are rethrown but count as a success for the breaker
   * (e.g. the user's code failing is not the pool failing).
   */
  isFailure?: (err: unknown) => boolean;
  /** Clock in ms. Default `Date.now`. Inject a fake clock in tests: nothing here ever sleeps. */
  now?: () => number;
  /** Called synchronously on every transition (also emitted as the `stateChange` event). Must not throw. */
  onStateChange?: (event: StateChangeEvent) => void;
}

/** Options with every default applied. */
export interface ResolvedCircuitBreakerOptions {
  name: string;
  failureThreshold: number;
  recoveryTimeoutMs: number;
  halfOpenRequests: number;
  isFailure: (err: unknown) => boolean;
  now: () => number;
  onStateChange?: (event: StateChangeEvent) => void;
}

/** Thrown for options that do not fit the schema (a boot-time error). */
export class InvalidCircuitBreakerOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidCircuitBreakerOptionsError';
  }
}

const FUNCTION_OPTIONS = ['isFailure', 'now', 'onStateChange'] as const;

/** Validates `options` and applies the defaults; throws {@link InvalidCircuitBreakerOptionsError}. */
export function resolveOptions(options: CircuitBreakerOptions = {}): ResolvedCircuitBreakerOptions {
  const { isFailure, now, onStateChange, ...numeric } = options;
  if (!Value.Check(CircuitBreakerNumericOptionsSchema, numeric)) {
    const details = [...Value.Errors(CircuitBreakerNumericOptionsSchema, numeric)]
      .slice(0, 5)
      .map((e) => `${e.path || '/'}: ${e.message}`);
    throw new InvalidCircuitBreakerOptionsError(`invalid circuit breaker options: ${details.join('; ')}`);
  }
  for (const key of FUNCTION_OPTIONS) {
    if (options[key] !== undefined && typeof options[key] !== 'function') {
      throw new InvalidCircuitBreakerOptionsError(
        `invalid circuit breaker options: /${key}: Expected function`,
      );
    }
  }
  return {
    name: numeric.name ?? 'default',
    failureThreshold: numeric.failureThreshold ?? DEFAULT_FAILURE_THRESHOLD,
    recoveryTimeoutMs: numeric.recoveryTimeoutMs ?? DEFAULT_RECOVERY_TIMEOUT_MS,
    halfOpenRequests: numeric.halfOpenRequests ?? DEFAULT_HALF_OPEN_REQUESTS,
    isFailure: isFailure ?? (() => true),
    now: now ?? Date.now,
    onStateChange,
  };
}
