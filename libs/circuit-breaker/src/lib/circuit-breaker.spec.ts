import { CircuitBreaker } from './circuit-breaker';
import { CircuitOpenError } from './circuit-open-error';
import {
  CircuitState,
  InvalidCircuitBreakerOptionsError,
  TransitionReason,
  type StateChangeEvent,
} from './options';

class FakeClock {
  t = 1_000_000;
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}
function deferred<T = string>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const boom = (): Promise<never> => Promise.reject(new Error('boom'));
const ok = (): Promise<string> => Promise.resolve('ok');

function setup(opts: ConstructorParameters<typeof CircuitBreaker>[0] = {}) {
  const clock = new FakeClock();
  const events: StateChangeEvent[] = [];
  const callbackEvents: StateChangeEvent[] = [];
  const breaker = new CircuitBreaker({
    name: 'pool-a',
    now: clock.now,
    onStateChange: (e) => callbackEvents.push(e),
    ...opts,
  });
  breaker.on('stateChange', (e) => events.push(e));
  return { clock, breaker, events, callbackEvents };
}

async function failTimes(breaker: CircuitBreaker, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await expect(breaker.execute(boom)).rejects.toThrow('boom');
}

async function openIt(breaker: CircuitBreaker): Promise<void> {
  await failTimes(breaker, breaker.options.failureThreshold);
  expect(breaker.state).toBe(CircuitState.Open);
}

describe('CircuitBreaker', () => {
  it('uses the seed defaults: 5 failures, 30 s, 3 trial requests', () => {
    const b = new CircuitBreaker();
    expect(b.options).toMatchObject({
      failureThreshold: 5,
      recoveryTimeoutMs: 30_000,
      halfOpenRequests: 3,
      name: 'default',
    });
    expect(b.state).toBe(CircuitState.Closed);
  });

  it('passes results and errors through while closed', async () => {
    const { breaker } = setup();
    await expect(breaker.execute(ok)).resolves.toBe('ok');
    const err = new Error('specific');
    await expect(breaker.execute(() => Promise.reject(err))).rejects.toBe(err);
    expect(breaker.stats).toMatchObject({ totalSuccesses: 1, totalFailures: 1, consecutiveFailures: 1 });
  });

  it('counts a synchronous throw of fn as a failure', async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    await expect(
      breaker.execute(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(breaker.state).toBe(CircuitState.Open);
  });

  it('closed → open after exactly failureThreshold consecutive failures', async () => {
    const { breaker, events } = setup();
    await failTimes(breaker, 4);
    expect(breaker.state).toBe(CircuitState.Closed);
    expect(breaker.stats.consecutiveFailures).toBe(4);
    await failTimes(breaker, 1);
    expect(breaker.state).toBe(CircuitState.Open);
    expect(events).toEqual([
      expect.objectContaining({
        from: 'closed',
        to: 'open',
        reason: TransitionReason.FailureThreshold,
        name: 'pool-a',
      }),
    ]);
  });

  it('a success resets the consecutive count', async () => {
    const { breaker } = setup();
    await failTimes(breaker, 4);
    await breaker.execute(ok);
    expect(breaker.stats.consecutiveFailures).toBe(0);
    await failTimes(breaker, 4);
    expect(breaker.state).toBe(CircuitState.Closed);
    await failTimes(breaker, 1);
    expect(breaker.state).toBe(CircuitState.Open);
  });

  it('rejects without calling fn while open, with retryAfterMs and the breaker name', async () => {
    const { breaker, clock } = setup();
    await openIt(breaker);
    clock.advance(10_000);
    const fn = jest.fn(ok);
    const err = await breaker.execute(fn).catch((e: unknown) => e);
    expect(fn).not.toHaveBeenCalled();
    expect(err).toBeInstanceOf(CircuitOpenError);
    expect(err).toMatchObject({
      breakerName: 'pool-a',
      retryAfterMs: 20_000,
      state: 'open',
      code: 'CIRCUIT_OPEN',
    });
    expect(breaker.retryAfterMs()).toBe(20_000);
    expect(breaker.canExecute()).toBe(false);
  });

  it('a rejected call does not count as a failure', async () => {
    const { breaker, clock } = setup();
    await openIt(breaker);
    for (let i = 0; i < 10; i++) await expect(breaker.execute(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(breaker.stats).toMatchObject({ totalFailures: 5, totalRejections: 10 });
    // and does not extend the open period: it still turns half-open at openedAt + 30 s
    clock.advance(30_000);
    expect(breaker.state).toBe(CircuitState.HalfOpen);
  });

  it('open → half-open lazily, exactly when recoveryTimeoutMs has passed', async () => {
    const { breaker, clock, events } = setup();
    await openIt(breaker);
    clock.advance(29_999);
    expect(breaker.state).toBe(CircuitState.Open);
    expect(breaker.retryAfterMs()).toBe(1);
    clock.advance(1);
    expect(breaker.state).toBe(CircuitState.HalfOpen);
    expect(breaker.state).toBe(CircuitState.HalfOpen);
    expect(breaker.retryAfterMs()).toBe(0);
    expect(breaker.canExecute()).toBe(true);
    expect(events.map((e) => `${e.from}>${e.to}`)).toEqual(['closed>open', 'open>half-open']);
    expect(events[1]).toMatchObject({ reason: TransitionReason.RecoveryTimeout, at: clock.t });
  });

  it('half-open → closed after halfOpenRequests successful trials', async () => {
    const { breaker, clock, events } = setup();
    await openIt(breaker);
    clock.advance(30_000);
    await breaker.execute(ok);
    await breaker.execute(ok);
    expect(breaker.state).toBe(CircuitState.HalfOpen);
    expect(breaker.stats).toMatchObject({ halfOpenTrialsStarted: 2, halfOpenTrialsSucceeded: 2 });
    await breaker.execute(ok);
    expect(breaker.state).toBe(CircuitState.Closed);
    expect(breaker.stats.openedAt).toBeNull();
    expect(events.map((e) => e.to)).toEqual(['open', 'half-open', 'closed']);
    expect(events[2].reason).toBe(TransitionReason.TrialsSucceeded);
  });

  it('5 concurrent calls in half-open: exactly 3 run, 2 are rejected', async () => {
    const { breaker, clock } = setup();
    await openIt(breaker);
    clock.advance(30_000);
    const gates = [deferred(), deferred(), deferred(), deferred(), deferred()];
    let started = 0;
    const calls = gates.map((g) =>
      breaker.execute(() => {
        started++;
        return g.promise;
      }),
    );
    const settled = Promise.allSettled(calls);
    expect(started).toBe(3);
    expect(breaker.canExecute()).toBe(false);
    gates.forEach((g, i) => g.resolve(`r${i}`));
    const results = await settled;
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(2);
    for (const r of rejected) expect(r.reason).toMatchObject({ state: 'half-open', retryAfterMs: 0 });
    expect(breaker.state).toBe(CircuitState.Closed);
    expect(breaker.stats.totalRejections).toBe(2);
  });

  it('half-open → open on the first trial failure, with a fresh timeout', async () => {
    const { breaker, clock, events } = setup();
    await openIt(breaker);
    clock.advance(30_000);
    await breaker.execute(ok);
    clock.advance(5_000);
    const reopenedAt = clock.t;
    await expect(breaker.execute(boom)).rejects.toThrow('boom');
    expect(breaker.state).toBe(CircuitState.Open);
    expect(breaker.stats.openedAt).toBe(reopenedAt);
    expect(events.map((e) => e.to)).toEqual(['open', 'half-open', 'open']);
    expect(events[2].reason).toBe(TransitionReason.TrialFailed);
    expect(breaker.retryAfterMs()).toBe(30_000);
    clock.advance(29_999);
    expect(breaker.state).toBe(CircuitState.Open);
    clock.advance(1);
    expect(breaker.state).toBe(CircuitState.HalfOpen);
  });

  it('late results of trials that started before a re-open do not close the circuit', async () => {
    const { breaker, clock, events } = setup();
    await openIt(breaker);
    clock.advance(30_000);
    const slow1 = deferred();
    const slow2 = deferred();
    const p1 = breaker.execute(() => slow1.promise);
    const p2 = breaker.execute(() => slow2.promise);
    await expect(breaker.execute(boom)).rejects.toThrow('boom');
    expect(breaker.state).toBe(CircuitState.Open);
    slow1.resolve('a');
    slow2.resolve('b');
    await expect(Promise.all([p1, p2])).resolves.toEqual(['a', 'b']);
    expect(breaker.state).toBe(CircuitState.Open);
    expect(events.map((e) => e.to)).toEqual(['open', 'half-open', 'open']);
  });

  it('late failures of calls started while closed do not re-trigger after the circuit opened', async () => {
    const { breaker, events } = setup({ failureThreshold: 2 });
    const slow = deferred();
    const p = breaker.execute(() => slow.promise);
    await failTimes(breaker, 2);
    slow.reject(new Error('late'));
    await expect(p).rejects.toThrow('late');
    expect(events).toHaveLength(1);
    expect(breaker.stats.totalFailures).toBe(3);
  });

  it('a slow call of the closed period finishing in a later half-open period is not a trial', async () => {
    const { breaker, clock, events } = setup({ failureThreshold: 2 });
    const slowOk = deferred();
    const slowFail = deferred();
    const p1 = breaker.execute(() => slowOk.promise);
    const p2 = breaker.execute(() => slowFail.promise);
    await failTimes(breaker, 2);
    clock.advance(30_000);
    expect(breaker.state).toBe(CircuitState.HalfOpen);
    slowOk.resolve('late ok');
    await expect(p1).resolves.toBe('late ok');
    expect(breaker.stats).toMatchObject({ halfOpenTrialsStarted: 0, halfOpenTrialsSucceeded: 0 });
    slowFail.reject(new Error('late fail'));
    await expect(p2).rejects.toThrow('late fail');
    expect(breaker.state).toBe(CircuitState.HalfOpen);
    expect(events.map((e) => e.to)).toEqual(['open', 'half-open']);
  });

  it('a trial of an earlier half-open period does not count in the next one', async () => {
    const { breaker, clock } = setup({ halfOpenRequests: 2 });
    await openIt(breaker);
    clock.advance(30_000);
    const slow = deferred();
    const p = breaker.execute(() => slow.promise);
    await expect(breaker.execute(boom)).rejects.toThrow('boom'); // re-opens
    clock.advance(30_000);
    expect(breaker.state).toBe(CircuitState.HalfOpen);
    await breaker.execute(ok); // 1 of 2 trials of the new period
    slow.resolve('stale');
    await p;
    expect(breaker.state).toBe(CircuitState.HalfOpen);
    expect(breaker.stats.halfOpenTrialsSucceeded).toBe(1);
    await breaker.execute(ok);
    expect(breaker.state).toBe(CircuitState.Closed);
  });

  it('isFailure=false errors pass through and count as success for the breaker', async () => {
    class UserCodeError extends Error {}
    const { breaker, clock } = setup({ isFailure: (e) => !(e instanceof UserCodeError) });
    await failTimes(breaker, 4);
    const userErr = new UserCodeError('user code raised');
    await expect(breaker.execute(() => Promise.reject(userErr))).rejects.toBe(userErr);
    expect(breaker.stats.consecutiveFailures).toBe(0);
    for (let i = 0; i < 20; i++)
      await expect(breaker.execute(() => Promise.reject(new UserCodeError('x')))).rejects.toThrow('x');
    expect(breaker.state).toBe(CircuitState.Closed);
    // in half-open, a filtered error is a successful trial
    await openIt(breaker);
    clock.advance(30_000);
    for (let i = 0; i < 3; i++)
      await expect(breaker.execute(() => Promise.reject(new UserCodeError('y')))).rejects.toThrow('y');
    expect(breaker.state).toBe(CircuitState.Closed);
  });

  it('fires each transition exactly once, on both the event and the callback', async () => {
    const { breaker, clock, events, callbackEvents } = setup();
    await openIt(breaker);
    await expect(breaker.execute(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    clock.advance(40_000);
    for (let i = 0; i < 5; i++) void breaker.state;
    breaker.canExecute();
    breaker.retryAfterMs();
    void breaker.stats;
    for (let i = 0; i < 3; i++) await breaker.execute(ok);
    await breaker.execute(ok);
    expect(events.map((e) => `${e.from}>${e.to}`)).toEqual([
      'closed>open',
      'open>half-open',
      'half-open>closed',
    ]);
    expect(callbackEvents).toEqual(events);
  });

  it('reset() closes and emits once; a closed reset emits nothing', async () => {
    const { breaker, events } = setup();
    breaker.reset();
    expect(events).toHaveLength(0);
    await openIt(breaker);
    breaker.reset();
    expect(breaker.state).toBe(CircuitState.Closed);
    expect(events.map((e) => e.reason)).toEqual([TransitionReason.FailureThreshold, TransitionReason.Reset]);
    expect(breaker.stats).toMatchObject({ consecutiveFailures: 0, openedAt: null, totalFailures: 5 });
    await expect(breaker.execute(ok)).resolves.toBe('ok');
  });

  it('supports custom thresholds (1 failure, 1 trial, 0 ms recovery)', async () => {
    const { breaker } = setup({ failureThreshold: 1, halfOpenRequests: 1, recoveryTimeoutMs: 0 });
    await failTimes(breaker, 1);
    expect(breaker.state).toBe(CircuitState.HalfOpen);
    await breaker.execute(ok);
    expect(breaker.state).toBe(CircuitState.Closed);
  });

  it.each([
    [{ failureThreshold: 0 }, /failureThreshold/],
    [{ failureThreshold: 1.5 }, /failureThreshold/],
    [{ halfOpenRequests: 0 }, /halfOpenRequests/],
    [{ recoveryTimeoutMs: -1 }, /recoveryTimeoutMs/],
    [{ name: '' }, /name/],
    [{ now: 5 as unknown as () => number }, /now: Expected function/],
  ])('rejects bad options %j with a clear error', (opts, message) => {
    expect(() => new CircuitBreaker(opts)).toThrow(InvalidCircuitBreakerOptionsError);
    expect(() => new CircuitBreaker(opts)).toThrow(message);
  });

  it('rejects a non-function with a TypeError and counts nothing', async () => {
    const { breaker } = setup();
    await expect(breaker.execute(null as unknown as () => Promise<void>)).rejects.toThrow(TypeError);
    expect(breaker.stats).toMatchObject({ totalFailures: 0, totalSuccesses: 0 });
  });
});
