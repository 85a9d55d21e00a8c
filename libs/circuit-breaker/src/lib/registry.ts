import { EventEmitter } from 'node:events';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { CircuitBreaker, type CircuitBreakerStats } from './circuit-breaker';
import { resolveOptions, type CircuitBreakerOptions, type StateChangeEvent } from './options';

/** Injection token of the registry's default options (see `CircuitBreakerModule.forRoot`). */
export const CIRCUIT_BREAKER_OPTIONS = Symbol('CIRCUIT_BREAKER_OPTIONS');

/** Options shared by every breaker a registry creates (each may be overridden per `get`). */
export type CircuitBreakerRegistryOptions = Omit<CircuitBreakerOptions, 'name'>;

/** Events of a {@link CircuitBreakerRegistry}: every breaker's transitions, forwarded. */
export interface CircuitBreakerRegistryEvents {
  stateChange: [StateChangeEvent];
}

/**
 * One breaker per name (e.g. per pool), created on first use with the registry's defaults.
 * Breaker state is per process by design (ARCHITECTURE.md: "as in Envoy").
 */
@Injectable()
export class CircuitBreakerRegistry extends EventEmitter<CircuitBreakerRegistryEvents> {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly defaults: CircuitBreakerRegistryOptions;

  constructor(@Optional() @Inject(CIRCUIT_BREAKER_OPTIONS) defaults: CircuitBreakerRegistryOptions = {}) {
    super();
    resolveOptions(defaults); // fail at boot on bad defaults, not at the first call
    this.defaults = { ...defaults };
  }

  /** The breaker called `name`, created with the defaults (plus `overrides`) if it does not exist yet. */
  get(name: string, overrides: CircuitBreakerRegistryOptions = {}): CircuitBreaker {
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError('circuit breaker name must be a non-empty string');
    }
    let breaker = this.breakers.get(name);
    if (!breaker) {
      breaker = new CircuitBreaker({ ...this.defaults, ...overrides, name });
      breaker.on('stateChange', (event) => this.emit('stateChange', event));
      this.breakers.set(name, breaker);
    }
    return breaker;
  }

  has(name: string): boolean {
    return this.breakers.has(name);
  }

  /** Forgets the breaker (e.g. when its pool is deleted); returns whether it existed. */
  delete(name: string): boolean {
    const breaker = this.breakers.get(name);
    if (!breaker) return false;
    breaker.removeAllListeners('stateChange');
    return this.breakers.delete(name);
  }

  list(): CircuitBreaker[] {
    return [...this.breakers.values()];
  }

  /** Stats of every breaker, sorted by name. */
  snapshot(): CircuitBreakerStats[] {
    return this.list()
      .map((b) => b.stats)
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}
