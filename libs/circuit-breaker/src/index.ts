export { CircuitBreaker, type CircuitBreakerEvents, type CircuitBreakerStats } from './lib/circuit-breaker';
export { CircuitOpenError } from './lib/circuit-open-error';
export {
  CircuitState,
  TransitionReason,
  DEFAULT_FAILURE_THRESHOLD,
  DEFAULT_HALF_OPEN_REQUESTS,
  DEFAULT_RECOVERY_TIMEOUT_MS,
  InvalidCircuitBreakerOptionsError,
  resolveOptions,
  type CircuitBreakerOptions,
  type ResolvedCircuitBreakerOptions,
  type StateChangeEvent,
} from './lib/options';
export {
  CIRCUIT_BREAKER_OPTIONS,
  CircuitBreakerRegistry,
  type CircuitBreakerRegistryEvents,
  type CircuitBreakerRegistryOptions,
} from './lib/registry';
export { CircuitBreakerModule, type CircuitBreakerModuleOptions } from './lib/circuit-breaker.module';
