import { PermanentError, TemporaryError } from './errors';
import { WorkQueue, type ReconcileOutcome } from './work-queue';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('WorkQueue', () => {
  const queues: WorkQueue[] = [];
  afterEach(async () => {
    await Promise.all(queues.map((q) => q.stop()));
    queues.length = 0;
  });
  function make(
    fn: (key: string) => Promise<unknown>,
    outcomes: ReconcileOutcome[] = [],
    concurrency = 4,
  ): WorkQueue {
    const q = new WorkQueue(
      { name: 't', concurrency, baseDelayMs: 10, maxDelayMs: 40, onDone: (o) => outcomes.push(o) },
      fn as (key: string) => Promise<void>,
    );
    queues.push(q);
    return q;
  }

  it('never runs one key twice at once; an add during a run runs it once more afterwards', async () => {
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const gate = deferred();
    const q = make(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs++;
      if (runs === 1) await gate.promise;
      running--;
    });
    q.start();
    q.add('a');
    await new Promise((r) => setImmediate(r));
    q.add('a');
    q.add('a');
    gate.resolve();
    await q.idle();
    await q.idle();
    expect(maxRunning).toBe(1);
    expect(runs).toBe(2);
  });

  it('runs different keys in parallel up to the concurrency', async () => {
    const gate = deferred();
    let running = 0;
    let peak = 0;
    const q = make(
      async () => {
        running++;
        peak = Math.max(peak, running);
        await gate.promise;
        running--;
      },
      [],
      2,
    );
    q.start();
    ['a', 'b', 'c'].forEach((k) => q.add(k));
    await new Promise((r) => setImmediate(r));
    expect(peak).toBe(2);
    gate.resolve();
    await q.idle();
  });

  it('retries TemporaryError and plain errors with backoff, stops on PermanentError', async () => {
    const outcomes: ReconcileOutcome[] = [];
    const calls: Record<string, number> = {};
    const done = deferred();
    const q = make(async (key) => {
      calls[key] = (calls[key] ?? 0) + 1;
      if (key === 'perm') throw new PermanentError('bad spec', 'spec.x');
      if (calls[key] === 1) throw new TemporaryError('later');
      if (calls[key] === 2) throw new Error('boom');
      done.resolve();
    }, outcomes);
    q.start();
    q.add('perm');
    q.add('tmp');
    await done.promise;
    await q.idle();
    expect(calls).toEqual({ perm: 1, tmp: 3 });
    expect(outcomes.sort()).toEqual(['error', 'permanent_error', 'success', 'temporary_error']);
  });

  it('requeues after requeueAfterMs and holds keys added before start', async () => {
    let runs = 0;
    const twice = deferred();
    const q = make(async () => {
      runs++;
      if (runs === 2) twice.resolve();
      return runs === 1 ? { requeueAfterMs: 5 } : undefined;
    });
    q.add('k');
    expect(runs).toBe(0);
    q.start();
    await twice.promise;
    expect(runs).toBe(2);
  });

  it('drops everything on stop and ignores later adds', async () => {
    let runs = 0;
    const q = make(async () => {
      runs++;
    });
    q.addAfter('k', 10_000);
    await q.stop();
    q.add('k');
    q.start();
    await q.idle();
    expect(runs).toBe(0);
    expect(q.size).toBe(0);
  });
});
