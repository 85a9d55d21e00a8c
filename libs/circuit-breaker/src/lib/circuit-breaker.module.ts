import { Module, type DynamicModule } from '@nestjs/common';
import {
  CIRCUIT_BREAKER_OPTIONS,
  CircuitBreakerRegistry,
  type CircuitBreakerRegistryOptions,
} from './registry';

export interface CircuitBreakerModuleOptions extends CircuitBreakerRegistryOptions {
  /** Register the module globally. Default `false`. */
  isGlobal?: boolean;
}

/** Provides (and exports) a {@link CircuitBreakerRegistry} built with the given defaults. */
@Module({})
export class CircuitBreakerModule {
  static forRoot(options: CircuitBreakerModuleOptions = {}): DynamicModule {
    const { isGlobal = false, ...defaults } = options;
    return {
      module: CircuitBreakerModule,
      global: isGlobal,
      providers: [{ provide: CIRCUIT_BREAKER_OPTIONS, useValue: defaults }, CircuitBreakerRegistry],
      exports: [CircuitBreakerRegistry],
    };
  }
}
