import { JobCallError, podHeartbeat } from '@executor/queues';
import { PodDriver, startHarness, type Harness } from './harness';

async function readyJson(pod: PodDriver): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${await pod.app.getUrl()}/health/ready`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('boot smoke test: a pod whose template does not work takes no session', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it('a working python-data pod ran its smoke program (numpy, pandas, matplotlib) in the sandbox and is ready', async () => {
    const pod = await PodDriver.start(h, 'python-data', { WARM_KERNELS: '0' });
    try {
      const ready = await readyJson(pod);
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({
        status: 'ok',
        info: {
          template: { status: 'up', template: 'python-data', smokeMs: expect.any(Number) },
          sandbox: { status: 'up', mode: 'bwrap' },
        },
      });
      const hb = await podHeartbeat(h.commands, pod.cfg.POD_NAME, h.prefix);
      expect(hb).toMatchObject({ healthy: true, accepting: true });
      expect(hb?.reason).toBeUndefined();
      const { id } = await pod.open();
      expect((await pod.exec(id, 'import pandas; print(pandas.__name__)')).stdout).toBe('pandas\n');
    } finally {
      await pod.stop();
    }
  }, 120_000);

  it('a pod whose smoke program fails (python-data in 16 MiB) is not ready, says why, and refuses sessions with the reason', async () => {
    const pod = await PodDriver.start(h, 'python-data', { WARM_KERNELS: '0', MEMORY_LIMIT_MB: '16' });
    try {
      const ready = await readyJson(pod);
      expect(ready.status).toBe(503);
      const error = ready.body['error'] as Record<string, { status: string; reason?: string }>;
      expect(error['template']?.status).toBe('down');
      expect(error['template']?.reason).toMatch(/^template python-data: smoke test failed: /);

      const hb = await podHeartbeat(h.commands, pod.cfg.POD_NAME, h.prefix);
      expect(hb?.healthy).toBe(false);
      expect(hb?.reason).toBe(error['template']?.reason);

      const err = await pod.open().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(JobCallError);
      expect((err as JobCallError).code).toBe('unavailable');
      expect((err as JobCallError).message).toContain('smoke test failed');
    } finally {
      await pod.stop();
    }
  }, 120_000);
});
