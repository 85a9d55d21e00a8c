import { Test } from '@nestjs/testing';
import { CircuitBreakerModule } from './circuit-breaker.module';
import { CircuitBreakerRegistry } from './registry';
import { CircuitState, InvalidCircuitBreakerOptionsError, type StateChangeEvent } from './options';

describe('CircuitBreakerRegistry', () => {
  const now = (): number => 0;

  it('creates one breaker per name with the registry defaults', () => {
    const registry = new CircuitBreakerRegistry({ failureThreshold: 2, now });
    const a = registry.get('pool-a');
    expect(registry.get('pool-a')).toBe(a);
    expect(a.options).toMatchObject({
      name: 'pool-a',
      failureThreshold: 2,
      recoveryTimeoutMs: 30_000,
      halfOpenRequests: 3,
    });
    const b = registry.get('pool-b', { halfOpenRequests: 1 });
    expect(b.options).toMatchObject({ failureThreshold: 2, halfOpenRequests: 1 });
    expect(registry.list().map((x) => x.name)).toEqual(['pool-a', 'pool-b']);
  });

  it('snapshot() reports every breaker, sorted by name; delete() forgets one', async () => {
    const registry = new CircuitBreakerRegistry({ failureThreshold: 1, now });
    const events: StateChangeEvent[] = [];
    registry.on('stateChange', (e) => events.push(e));
    registry.get('z-pool');
    await expect(registry.get('a-pool').execute(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(registry.snapshot()).toEqual([
      expect.objectContaining({ name: 'a-pool', state: CircuitState.Open, totalFailures: 1 }),
      expect.objectContaining({ name: 'z-pool', state: CircuitState.Closed }),
    ]);
    expect(events).toEqual([expect.objectContaining({ name: 'a-pool', to: 'open' })]);
    expect(registry.delete('a-pool')).toBe(true);
    expect(registry.delete('a-pool')).toBe(false);
    expect(registry.has('a-pool')).toBe(false);
    expect(registry.get('a-pool').state).toBe(CircuitState.Closed);
  });

  it('rejects bad defaults at construction and empty names', () => {
    expect(() => new CircuitBreakerRegistry({ failureThreshold: -1 })).toThrow(
      InvalidCircuitBreakerOptionsError,
    );
    expect(() => new CircuitBreakerRegistry().get('')).toThrow(/non-empty/);
  });

  it('CircuitBreakerModule.forRoot provides the registry with the given defaults', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CircuitBreakerModule.forRoot({ failureThreshold: 7, recoveryTimeoutMs: 1_000 })],
    }).compile();
    const registry = moduleRef.get(CircuitBreakerRegistry);
    expect(registry).toBeInstanceOf(CircuitBreakerRegistry);
    expect(registry.get('p').options).toMatchObject({ failureThreshold: 7, recoveryTimeoutMs: 1_000 });
    await moduleRef.close();
  });

  it('CircuitBreakerModule.forRoot fails the boot on bad options', async () => {
    await expect(
      Test.createTestingModule({
        imports: [CircuitBreakerModule.forRoot({ halfOpenRequests: 0 })],
      }).compile(),
    ).rejects.toThrow(/halfOpenRequests/);
  });
});
