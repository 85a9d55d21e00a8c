import { podHeartbeat } from '@executor/queues';
import { PodDriver, startHarness, type Harness } from './harness';

describe('heartbeat', () => {
  let h: Harness;
  let pod: PodDriver;

  beforeAll(async () => {
    h = await startHarness();
    // a period far longer than the test: only the beat sent on close can report the freed slot
    pod = await PodDriver.start(h, 'python', { HEARTBEAT_INTERVAL_MS: '60000', WARM_KERNELS: '0' });
  });
  afterAll(async () => {
    await pod?.stop();
    await h?.stop();
  });

  it('reports a closed session at once, not a period later (routers would see the pod full until then)', async () => {
    const a = (await pod.open()).id;
    const b = (await pod.open()).id;
    await pod.exec(a, 'print(1)');
    await pod.exec(b, 'print(1)');
    // the boot beat said 0; opens do not beat (the router counts its own assignments)
    await pod.close(a);
    const deadline = Date.now() + 5000;
    let seen: number | undefined;
    while (Date.now() < deadline) {
      seen = (await podHeartbeat(h.commands, pod.cfg.POD_NAME, h.prefix))?.sessions;
      if (seen === 1) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(seen).toBe(1);
    await pod.close(b);
    const until = Date.now() + 5000;
    while (Date.now() < until) {
      seen = (await podHeartbeat(h.commands, pod.cfg.POD_NAME, h.prefix))?.sessions;
      if (seen === 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(seen).toBe(0);
  });
});
