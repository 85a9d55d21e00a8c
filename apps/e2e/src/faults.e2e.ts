// Fault tests (bounded in time, loopback only) against the platform as `npm start` runs it.
import { eventually, startTestPlatform } from './support/platform';
import type { Api, Session } from './support/api';

describe('faults', () => {
  let env: Awaited<ReturnType<typeof startTestPlatform>>;
  let a: Api;
  let b: Api;

  beforeAll(async () => {
    env = await startTestPlatform([{ name: 'python', template: 'python', replicas: 2 }], { lbPorts: [0, 0] });
    [a, b] = env.apis as [Api, Api];
  }, 180_000);
  afterAll(async () => {
    await env?.stop();
  });

  // Each test starts with both pods of the pool taking sessions: a pod killed by the previous test is
  // replaced by a new one, which takes sessions only after its boot smoke test (a few seconds here).
  beforeEach(async () => {
    await eventually(
      async () => {
        const r = await a.request<{ podDetails: Array<{ healthy: boolean; accepting: boolean }> }>(
          'GET',
          '/v1/pools/python',
        );
        const ready = r.body.podDetails?.filter((p) => p.healthy && p.accepting).length ?? 0;
        return r.status === 200 && ready >= 2 ? true : undefined;
      },
      60_000,
      'both pods of the python pool to take sessions',
    );
  }, 70_000);

  async function session(api: Api, id: string): Promise<Session> {
    const r = await api.request<Session>('GET', `/v1/sessions/${id}`);
    expect(r.status).toBe(200);
    return r.body;
  }

  it('kill -9 of an executor right after an execution loses no completed work', async () => {
    const s = await a.createSession({ template: 'python' });
    for (let i = 0; i < 3; i++) {
      const r = await a.execute(s.id, `open("f${i}.txt", "w").write("v${i}")\nprint(${i})`);
      expect(r.exitCode).toBe(0);
    }
    await env.platform.killExecutor(s.pod, 'SIGKILL'); // right after the reply

    const r = await a.execute(
      s.id,
      'import os\nprint(sorted(f for f in os.listdir(".") if f.endswith(".txt")))',
    );
    expect(r.stdout).toBe("['f0.txt', 'f1.txt', 'f2.txt']\n");
    const moved = await session(b, s.id);
    expect(moved.pod).not.toBe(s.pod);
    expect(moved.migrations).toEqual([expect.objectContaining({ from: s.pod, to: moved.pod })]);
    expect((await a.request('GET', `/v1/sessions/${s.id}/files/f2.txt`)).raw.toString()).toBe('v2');
  });

  it('SIGTERM during an execution: it completes or fails, never hangs, and the session moves', async () => {
    const s = await a.createSession({ template: 'python' });
    await a.execute(s.id, 'open("before.txt", "w").write("ok")');
    const running = a.request<{ exitCode: number; stdout: string } | { error: { code: string } }>(
      'POST',
      `/v1/sessions/${s.id}/executions`,
      { code: 'import time\ntime.sleep(1.5)\nprint("finished")' },
      { timeoutMs: 60_000 },
    );
    // The execution is running once the pod reports it; then ask the pod to stop.
    await new Promise((r) => setTimeout(r, 300)); // let the job reach the kernel (no event crosses the API)
    const stopped = env.platform.killExecutor(s.pod, 'SIGTERM');
    const res = await running;
    expect([200, 503, 504]).toContain(res.status);
    if (res.status === 200) expect((res.body as { stdout: string }).stdout).toBe('finished\n');
    await stopped;
    const after = await a.execute(s.id, 'print(open("before.txt").read())');
    expect(after.stdout).toBe('ok\n');
    expect((await session(a, s.id)).pod).not.toBe(s.pod);
  });

  it('redis-server killed and restarted: services reconnect and persisted sessions survive', async () => {
    const s = await a.createSession({ template: 'python' });
    await a.execute(s.id, 'open("durable.txt", "w").write("still here")');
    const persisted = await a.request('POST', `/v1/sessions/${s.id}/persist`);
    expect(persisted.status).toBe(200);

    await env.platform.restartRedis(500);

    const back = await eventually(
      async () => {
        const r = await a.request<Session>('GET', `/v1/sessions/${s.id}`).catch(() => undefined);
        return r?.status === 200 ? r : undefined;
      },
      30_000,
      'the API to answer after the Redis restart',
    );
    expect(back.body.id).toBe(s.id);
    const r = await eventually(
      async () => {
        const x = await a.request<{ stdout: string }>('POST', `/v1/sessions/${s.id}/executions`, {
          code: 'print(open("durable.txt").read())',
        });
        return x.status === 200 ? x.body : undefined;
      },
      30_000,
      'an execution after the Redis restart',
    );
    expect(r.stdout).toBe('still here\n');
  });

  it('a load-balancer replica killed: the other one serves every session', async () => {
    const s = await a.createSession({ template: 'python' });
    await a.execute(s.id, 'kept = 7');
    await env.platform.killLoadBalancer(0, 'SIGKILL');
    expect((await b.execute(s.id, 'print(kept * 6)')).stdout).toBe('42\n');
    const fresh = await b.createSession({ template: 'python' });
    expect(fresh.status).toBe('active');
  });
});
