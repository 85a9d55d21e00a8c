import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { QueueEvents } from 'bullmq';
import { bullConnection, heartbeatKeys, podHeartbeat, podQueueName } from '@executor/queues';
import { freePort } from '@executor/testing';
import { PodDriver, executorConfig, startHarness, type Harness } from './harness';

const BUNDLE = join(__dirname, '../../../dist/apps/executor/main.js');

/** Resolves when `child` prints a line matching `re` on stdout/stderr. */
function waitForOutput(child: ChildProcess, re: RegExp, log: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer): void => {
      for (const line of d.toString().split('\n')) {
        log.push(line);
        if (re.test(line)) resolve(line);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`executor exited (${code}) before "${re}":\n${log.join('\n')}`)),
    );
  });
}

describe('the built executor bundle: health, metrics and graceful SIGTERM', () => {
  let h: Harness;
  let child: ChildProcess;
  let workspaceRoot: string | undefined;
  const log: string[] = [];

  beforeAll(async () => {
    // `nx test executor` builds the bundle first (dependsOn build); a missing bundle fails, never skips.
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npx nx build executor\``);
    h = await startHarness();
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      console.warn(log.join('\n'));
      child.kill('SIGKILL');
    }
    if (workspaceRoot) rmSync(workspaceRoot, { recursive: true, force: true });
    await h?.stop();
  });

  it('serves health and metrics, then on SIGTERM finishes the running execution, snapshots every session and exits', async () => {
    const cfg = executorConfig(h, 'python');
    workspaceRoot = cfg.WORKSPACE_ROOT;
    const port = await freePort();
    child = spawn(process.execPath, [BUNDLE], {
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        POOL_NAME: cfg.POOL_NAME,
        POD_NAME: cfg.POD_NAME,
        TEMPLATE: 'python',
        REDIS_URL: h.redis.url,
        QUEUE_PREFIX: h.prefix,
        WORKSPACE_ROOT: cfg.WORKSPACE_ROOT,
        PORT: String(port),
        HEARTBEAT_INTERVAL_MS: '500',
        SNAPSHOT_AFTER_EXECUTION: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await waitForOutput(
      child,
      new RegExp(`executor ${cfg.POD_NAME} ready \\(pool ${cfg.POOL_NAME}, template python\\)`),
      log,
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ info: { redis: { status: 'up' }, worker: { status: 'up' } } });
    const hb = await podHeartbeat(h.commands, cfg.POD_NAME, h.prefix);
    expect(hb).toMatchObject({
      pool: cfg.POOL_NAME,
      template: 'python',
      capacity: 20,
      accepting: true,
      queue: podQueueName(cfg.POD_NAME),
    });

    const pod = new PodDriver(h, cfg, undefined as never);
    const a = (await pod.open({ persist: true })).id;
    const b = (await pod.open({ persist: true })).id;
    await pod.exec(b, '_ = open("b.txt", "w").write("b")');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/executor_executions_total\{template="python",outcome="ok"\} 1/);
    expect(metrics).toMatch(/executor_active_sessions 2/);

    // SIGTERM while a's execution runs: it must finish and its file must be in the shutdown snapshot.
    // Read the queue's event stream from its start (no event can be missed) and wait for this job to start.
    const events = new QueueEvents(pod.queue, {
      connection: bullConnection(h.redis.url),
      prefix: h.prefix,
      lastEventId: '0',
    });
    const active = new Promise<void>((resolve) =>
      events.on('active', ({ jobId }) => {
        void h.client
          .queue(pod.queue)
          .getJob(jobId)
          .then((job) => {
            if (
              job?.name === 'session.execute' &&
              String((job.data as { code?: string }).code).includes('sleep(1.5)')
            )
              resolve();
          });
      }),
    );
    const running = pod.exec(
      a,
      'import time\ntime.sleep(1.5)\n_ = open("a.txt", "w").write("finished")\nprint("done")',
    );
    await active;
    const sentAt = Date.now();
    child.kill('SIGTERM');
    const result = await running;
    expect(result).toMatchObject({ exitCode: 0, stdout: 'done\n' });
    expect(await exited).toBe(0);
    await events.close();

    const snapA = h.persistence.latest(a);
    const snapB = h.persistence.latest(b);
    expect(snapA?.trigger).toBe('shutdown');
    expect(snapB?.trigger).toBe('shutdown');
    expect(snapA?.state.files.find((f) => f.path === 'a.txt')?.content?.toString()).toBe('finished');
    expect(snapB?.state.files.map((f) => f.path)).toEqual(['b.txt']);
    expect(await h.commands.exists(heartbeatKeys.pod(cfg.POD_NAME, h.prefix))).toBe(0);
    expect(log.join('\n')).toMatch(/drained: 2 session\(s\) snapshotted, 0 failed/);
    expect(Date.now() - sentAt).toBeLessThan(30_000);
  }, 45_000);
});
