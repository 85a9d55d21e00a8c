// Retry on 503 against the real platform: the only python pod stops answering (SIGSTOP), its
// heartbeat expires and the load balancer answers 503 with retryAfterSeconds; the SDK waits as
// told and retries; the pod is resumed on the first retry and the call succeeds.
import { ExecutorClient, UnavailableError, type RetryEvent } from '../../src';
import { startPlatform, type TestPlatform } from './support';

describe('retry on 503 against the real platform', () => {
  let p: TestPlatform;

  beforeAll(async () => {
    p = await startPlatform([{ name: 'python', template: 'python', replicas: 1 }], {
      env: { executor: { HEARTBEAT_INTERVAL_MS: '200' } },
    });
  });
  afterAll(async () => {
    await p?.stop();
  });

  it('createSession: 503 while the pool has no live pod, retried after retryAfterSeconds, then 201', async () => {
    const client = new ExecutorClient({ baseUrl: p.url, apiKey: p.key, retries: 0 });
    const pod = p.platform.executors('python')[0];
    if (!pod) throw new Error('no python executor');
    process.kill(pod.pid, 'SIGSTOP');
    let resumed = false;
    const resume = (): void => {
      if (!resumed) process.kill(pod.pid, 'SIGCONT');
      resumed = true;
    };
    try {
      // Bounded poll over HTTP: the heartbeat expires after 3 periods (600 ms here).
      const deadline = Date.now() + 15_000;
      while ((await client.pools.get('python')).healthy) {
        if (Date.now() > deadline) throw new Error('the pool never became unhealthy');
        await new Promise((r) => setTimeout(r, 100));
      }
      await expect(client.createSession({ template: 'python' })).rejects.toBeInstanceOf(UnavailableError);

      const events: RetryEvent[] = [];
      const retrying = new ExecutorClient({
        baseUrl: p.url,
        apiKey: p.key,
        retries: 10,
        onRetry: (e) => {
          events.push(e);
          resume();
        },
      });
      const session = await retrying.createSession({ template: 'python', persist: false });
      expect(session.info.pod).toBe(pod.pod);
      expect(events.length).toBeGreaterThanOrEqual(1);
      const first = events[0] as RetryEvent;
      expect(first.error).toBeInstanceOf(UnavailableError);
      expect(first.method).toBe('POST');
      const hint = (first.error as UnavailableError).retryAfterSeconds;
      expect(typeof hint).toBe('number');
      expect(first.delayMs).toBe(Math.ceil((hint as number) * 1000));
      expect((await session.execute('print("back")')).stdout).toBe('back\n');
      await session.close();
    } finally {
      resume();
    }
  });
});
