import { EventEmitter } from 'node:events';
import { CircuitOpenError } from './circuit-open-error';
import {
  CircuitState,
  TransitionReason,
  resolveOptions,
  type CircuitBreakerOptions,
  type ResolvedCircuitBreakerOptions,
  type StateChangeEvent,
} from './options';

/** A point-in-time view of one breaker, for metrics and admin endpoints. */
export interface CircuitBreakerStats {
  name: string;
  state: CircuitState;
  /** Consecutive failures counted while closed (reset by any success). */
  consecutiveFailures: number;
  totalSuccesses: number;
  totalFailures: number;
  /** Calls rejected with {@link CircuitOpenError} (never counted as failures). */
  totalRejections: number;
  /** Clock value when the circuit last opened; `null` while it never opened since the last close. */
  openedAt: number | null;
  /** Trial calls started in the current half-open period. */
  halfOpenTrialsStarted: number;
  /** Trial calls that succeeded in the current half-open period. */
  halfOpenTrialsSucceeded: number;
}

/** Events of a {@link CircuitBreaker}. */
export interface CircuitBreakerEvents {
  stateChange: [StateChangeEvent];
}

/**
 * A consecutive-failure circuit breaker: closed → open after `failureThreshold` consecutive failures →
 * half-open once `recoveryTimeoutMs` has passed (derived lazily from the clock) → closed after
 * `halfOpenRequests` successful trial calls, or open again (fresh timeout) on the first trial failure.
 *
 * Results of calls started before the latest transition to open/closed (an older "generation")
 * still count in the totals but never move the state.
 */
export class CircuitBreaker extends EventEmitter<CircuitBreakerEvents> {
  readonly options: ResolvedCircuitBreakerOptions;
  private current: CircuitState = CircuitState.Closed;
  private generation = 0;
  private consecutiveFailures = 0;
  private openedAt: number | null = null;
  private trialsStarted = 0;
  private trialsSucceeded = 0;
  private totalSuccesses = 0;
  private totalFailures = 0;
  private totalRejections = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    super();
    this.options = resolveOptions(options);
  }

  get name(): string {
    return this.options.name;
  }

  /** Current state; an open circuit whose recovery timeout has passed is reported (and becomes) half-open. */
  get state(): CircuitState {
    this.refresh();
    return this.current;
  }

  /** Whether a call made now would be let through (does not reserve a trial slot). */
  canExecute(): boolean {
    const state = this.state;
    if (state === CircuitState.Closed) return true;
    if (state === CircuitState.Open) return false;
    return this.trialsStarted < this.options.halfOpenRequests;
  }

  /** Milliseconds until the circuit becomes half-open; 0 unless it is open. */
  retryAfterMs(): number {
    if (this.state !== CircuitState.Open || this.openedAt === null) return 0;
    return Math.max(0, this.openedAt + this.options.recoveryTimeoutMs - this.options.now());
  }

  get stats(): CircuitBreakerStats {
    return {
      name: this.name,
      state: this.state,
      consecutiveFailures: this.consecutiveFailures,
      totalSuccesses: this.totalSuccesses,
      totalFailures: this.totalFailures,
      totalRejections: this.totalRejections,
      openedAt: this.openedAt,
      halfOpenTrialsStarted: this.trialsStarted,
      halfOpenTrialsSucceeded: this.trialsSucceeded,
    };
  }

  /**
   * Runs `fn` through the breaker. While open (or half-open with every trial slot taken) it throws
   * {@link CircuitOpenError} without calling `fn`. Errors of `fn` are always rethrown unchanged.
   */
  async execute<T>(fn: () => Promise<T>): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError(`circuit "${this.name}": execute() needs a function`);
    this.admit();
    const generation = this.generation;
    let result: T;
    try {
      result = await fn();
    } catch (err) {
      if (this.options.isFailure(err)) this.onFailure(generation);
      else this.onSuccess(generation);
      throw err;
    }
    this.onSuccess(generation);
    return result;
  }

  /** Back to closed with every counter of the current period cleared (totals are kept). */
  reset(): void {
    const from = this.state;
    this.enterClosed();
    if (from !== CircuitState.Closed) this.emitChange(from, CircuitState.Closed, TransitionReason.Reset);
  }

  /** Reserves the right to call: throws when rejected. Synchronous, so concurrent calls see each other. */
  private admit(): void {
    const state = this.state;
    if (state === CircuitState.Closed) return;
    if (state === CircuitState.HalfOpen && this.trialsStarted < this.options.halfOpenRequests) {
      this.trialsStarted++;
      return;
    }
    this.totalRejections++;
    throw new CircuitOpenError(this.name, this.retryAfterMs(), state);
  }

  private onSuccess(generation: number): void {
    this.totalSuccesses++;
    if (generation !== this.generation) return;
    if (this.current === CircuitState.Closed) {
      this.consecutiveFailures = 0;
    } else if (this.current === CircuitState.HalfOpen) {
      this.trialsSucceeded++;
      if (this.trialsSucceeded >= this.options.halfOpenRequests) {
        this.enterClosed();
        this.emitChange(CircuitState.HalfOpen, CircuitState.Closed, TransitionReason.TrialsSucceeded);
      }
    }
  }

  private onFailure(generation: number): void {
    this.totalFailures++;
    if (generation !== this.generation) return;
    if (this.current === CircuitState.Closed) {
      this.consecutiveFailures++;
      if (this.consecutiveFailures >= this.options.failureThreshold) {
        this.enterOpen();
        this.emitChange(CircuitState.Closed, CircuitState.Open, TransitionReason.FailureThreshold);
      }
    } else if (this.current === CircuitState.HalfOpen) {
      this.enterOpen();
      this.emitChange(CircuitState.HalfOpen, CircuitState.Open, TransitionReason.TrialFailed);
    }
  }

  /** Lazily moves open → half-open once the recovery timeout has passed. */
  private refresh(): void {
    if (this.current !== CircuitState.Open || this.openedAt === null) return;
    if (this.options.now() - this.openedAt < this.options.recoveryTimeoutMs) return;
    this.current = CircuitState.HalfOpen;
    this.trialsStarted = 0;
    this.trialsSucceeded = 0;
    // Calls started while open cannot exist; the generation stays, so trials of this period count.
    this.emitChange(CircuitState.Open, CircuitState.HalfOpen, TransitionReason.RecoveryTimeout);
  }

  private enterOpen(): void {
    this.current = CircuitState.Open;
    this.generation++;
    this.openedAt = this.options.now();
    this.consecutiveFailures = 0;
    this.trialsStarted = 0;
    this.trialsSucceeded = 0;
  }

  private enterClosed(): void {
    this.current = CircuitState.Closed;
    this.generation++;
    this.openedAt = null;
    this.consecutiveFailures = 0;
    this.trialsStarted = 0;
    this.trialsSucceeded = 0;
  }

  private emitChange(from: CircuitState, to: CircuitState, reason: TransitionReason): void {
    const event: StateChangeEvent = { name: this.name, from, to, reason, at: this.options.now() };
    this.options.onStateChange?.(event);
    this.emit('stateChange', event);
  }
}
