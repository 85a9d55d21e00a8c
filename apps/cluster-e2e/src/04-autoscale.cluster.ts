// Autoscaling for real (issue 14, item 5): the pool's HPA (the operator's, autoscaling/v2beta2 on
// 1.20) scales on executor_pool_queue_depth alone, served by the operator's own External metrics API
// behind the APIService (no metrics-server, no Prometheus on this cluster); the real HPA controller of
// kube-controller-manager does the scaling. A burst of queued executions scales the Deployment up
// along the seed's policy (+100 % per 15 s); when the queue is empty it scales down after the
// stabilization window, and every session survives the scale-down (preStop drains and snapshots,
// the load balancer moves the sessions of removed pods).
//
// The pool shortens what would make the suite long, through its spec: scale-up window 0 s (the
// seed's 60 s only delays the first step), scale-down window 30 s and −50 % per 15 s (the seed's
// 300 s and −10 % per 60 s would take 8 minutes), a target of 2 queued jobs per pod and one job at a
// time per pod (WORKER_CONCURRENCY=1) so that 16 five-second executions (one tenant's in-flight quota) make a queue.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Api, Execution, Session } from './support/api';
import {
  KUBECONFIG,
  KUBECTL,
  NS,
  ROOT,
  eventually,
  getJson,
  isReady,
  kubectl,
  kubectlAsync,
  poolPods,
  type KObj,
} from './support/kube';
import { REGISTRY, TAG, apis, poolManifest, waitPoolReady } from './support/platform';

const POOL = 'e2e-scale';
const REGION = 'e2e-scale';
const TARGET_PER_POD = 2;
const MAX = 4;
/** Executions sent at once: the default per-tenant in-flight quota (TENANT_MAX_RUNNING_EXECUTIONS). */
const BURST = 16;
const JOB_SECONDS = 5;
const SCALE_DOWN_WINDOW_S = 30;
const MEASUREMENTS = join(ROOT, 'tmp', 'cluster-e2e', 'autoscale.json');
const METRIC = `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/executor_pool_queue_depth?labelSelector=pool%3D${POOL}`;

const log = (msg: string): void => {
  process.stderr.write(`[cluster-e2e autoscale ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};

/** Lines of a `kubectl get -w` (events, each stamped on arrival). */
class Watch {
  readonly lines: { at: number; text: string }[] = [];
  private readonly proc: ChildProcess;
  constructor(args: string[]) {
    this.proc = spawn(KUBECTL, ['--kubeconfig', KUBECONFIG, ...args], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    if (this.proc.stdout) {
      createInterface({ input: this.proc.stdout }).on('line', (text) =>
        this.lines.push({ at: Date.now(), text }),
      );
    }
  }
  stop(): void {
    this.proc.kill();
  }
}

/** The External metric as the HPA reads it (through the aggregator), sampled while the test runs. */
class MetricSampler {
  readonly samples: { at: number; value: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  start(): void {
    // Polled: the metric has no watch (the HPA polls it too, every 15 s).
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      kubectlAsync(['get', '--raw', METRIC], 10_000)
        .then((out) => {
          const items = (JSON.parse(out) as { items: { value: string }[] }).items;
          this.samples.push({ at: Date.now(), value: Number(items[0]?.value ?? NaN) });
        })
        .catch(() => undefined)
        .finally(() => (this.busy = false));
    }, 1000);
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

function record(values: Record<string, unknown>): void {
  mkdirSync(join(ROOT, 'tmp', 'cluster-e2e'), { recursive: true });
  const all = existsSync(MEASUREMENTS) ? (JSON.parse(readFileSync(MEASUREMENTS, 'utf8')) as unknown[]) : [];
  all.push({ at: new Date().toISOString(), ...values });
  writeFileSync(MEASUREMENTS, JSON.stringify(all, null, 2));
}

const seconds = (ms: number): number => Math.round(ms / 100) / 10;

describe('autoscaling on queue depth through the External metrics API (real HPA controller)', () => {
  let api: Api;
  let replicasWatch: Watch;
  let podsWatch: Watch;
  const sampler = new MetricSampler();
  const sessions: { s: Session; marker: string }[] = [];
  let burst: Promise<Execution[]>;
  let tBurst = 0;
  const m: Record<string, number | number[] | string[]> = {};

  /** Replica counts the Deployment was set to, in order, with the time each was seen. */
  const replicaSteps = (): { at: number; replicas: number }[] => {
    const out: { at: number; replicas: number }[] = [];
    for (const l of replicasWatch.lines) {
      const n = Number(l.text.trim());
      if (Number.isInteger(n) && out.at(-1)?.replicas !== n) out.push({ at: l.at, replicas: n });
    }
    return out;
  };
  /** First time each pod was seen Ready. */
  const readyAt = (): Map<string, number> => {
    const out = new Map<string, number>();
    for (const l of podsWatch.lines) {
      const [name, ready] = l.text.trim().split(/\s+/);
      if (name && ready === 'True' && !out.has(name)) out.set(name, l.at);
    }
    return out;
  };

  async function newSession(i: number): Promise<void> {
    const s = await api.createSession({ template: 'python', region: REGION, ttlSeconds: 900 });
    expect(s.pool).toBe(POOL);
    const marker = `session ${i} ${s.id}`;
    const put = await api.request('PUT', `/v1/sessions/${s.id}/files/marker.txt`, undefined, {
      raw: Buffer.from(marker),
    });
    expect(put.status).toBe(204);
    sessions.push({ s, marker });
  }

  beforeAll(async () => {
    // a tenant of its own: the burst is exactly TENANT_MAX_RUNNING_EXECUTIONS (16) in flight
    ({ scale: api } = apis());
    const pool = poolManifest({
      name: POOL,
      template: 'python',
      replicas: 1,
      image: `${REGISTRY}/executor-python:${TAG}`,
      env: { WORKER_CONCURRENCY: '1' },
      maxSessionsPerPod: 12,
    });
    pool['spec'] = {
      ...pool['spec'],
      region: REGION,
      minReplicas: 1,
      maxReplicas: MAX,
      scaleUpQueueDepthPerPod: TARGET_PER_POD,
      scaleDownQueueDepthPerPod: 1,
      scaling: {
        mode: 'hpa',
        metrics: ['queueDepth'],
        behavior: {
          scaleUp: {
            stabilizationWindowSeconds: 0,
            selectPolicy: 'Max',
            policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
          },
          scaleDown: {
            stabilizationWindowSeconds: SCALE_DOWN_WINDOW_S,
            selectPolicy: 'Max',
            policies: [{ type: 'Percent', value: 50, periodSeconds: 15 }],
          },
        },
      },
    };
    kubectl(['apply', '-n', NS, '-f', '-'], { input: JSON.stringify(pool) });
    await waitPoolReady(api, POOL, 1);
    replicasWatch = new Watch([
      'get',
      'deployment',
      '-n',
      NS,
      POOL,
      '-w',
      '-o',
      'jsonpath={.spec.replicas}{"\\n"}',
    ]);
    podsWatch = new Watch([
      'get',
      'pods',
      '-n',
      NS,
      '-l',
      `executor.ai-orchestrator.io/pool=${POOL}`,
      '-w',
      '-o',
      'jsonpath={.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}',
    ]);
    sampler.start();
  });

  afterAll(async () => {
    sampler.stop();
    replicasWatch?.stop();
    podsWatch?.stop();
    await api?.deleteCreatedSessions();
    kubectl(['delete', 'executorpool', '-n', NS, POOL, '--ignore-not-found', '--wait=false']);
  });

  it('the HPA scales on the External metric alone, served by the operator (APIService Available)', async () => {
    // The operator fills its TLS Secret and the caBundle; the aggregator then finds the API available.
    const svc = await eventually(
      () => {
        const a = getJson(['get', 'apiservice', 'v1beta1.external.metrics.k8s.io']);
        return a.status?.conditions?.find((c: KObj) => c.type === 'Available')?.status === 'True'
          ? a
          : undefined;
      },
      60_000,
      'the External metrics APIService Available',
      500,
    );
    expect(svc.spec.service).toMatchObject({ name: 'executor-external-metrics', namespace: NS });
    expect(svc.spec.insecureSkipTLSVerify ?? false).toBe(false);
    expect(svc.spec.caBundle).toBe(
      getJson(['get', 'secret', '-n', NS, 'executor-external-metrics-tls']).data['ca.crt'],
    );
    const hpa = await eventually(
      () => {
        const h = JSON.parse(
          kubectl([
            'get',
            '--raw',
            `/apis/autoscaling/v2beta2/namespaces/${NS}/horizontalpodautoscalers/${POOL}`,
          ]),
        ) as KObj;
        return h.status?.currentMetrics?.length ? h : undefined;
      },
      60_000,
      'the HPA reading its metric',
      1000,
    );
    expect(hpa.spec.metrics).toEqual([
      {
        type: 'External',
        external: {
          metric: { name: 'executor_pool_queue_depth', selector: { matchLabels: { pool: POOL } } },
          target: { type: 'AverageValue', averageValue: String(TARGET_PER_POD) },
        },
      },
    ]);
    expect(hpa.status.conditions.find((c: KObj) => c.type === 'ScalingActive')?.status).toBe('True');
  });

  it(`a burst of ${BURST} queued executions scales 1 → 2 → ${MAX} pods at +100 % per 15 s`, async () => {
    for (let i = 0; i < 3; i++) await newSession(i);
    const pod1 = poolPods(POOL)[0]?.metadata.name as string;
    expect(sessions.every((x) => x.s.pod === pod1)).toBe(true);
    tBurst = Date.now();
    burst = Promise.all(
      Array.from({ length: BURST }, async (_, i) => {
        const { s } = sessions[i % sessions.length] as { s: Session };
        const r = await api.request<Execution>(
          'POST',
          `/v1/sessions/${s.id}/executions`,
          { code: `import time\ntime.sleep(${JOB_SECONDS})\nprint(${i})`, timeoutMs: 240_000 },
          { timeoutMs: 300_000 },
        );
        if (r.status !== 200) throw new Error(`execution ${i}: HTTP ${r.status} ${r.raw.toString()}`);
        return r.body;
      }),
    );
    burst.catch(() => undefined); // awaited in the scale-down test
    const threshold = TARGET_PER_POD * (1 + 0.1); // above the HPA tolerance for 1 pod
    await eventually(
      () => (replicaSteps().some((s) => s.replicas === MAX) ? true : undefined),
      150_000,
      `the Deployment at ${MAX} replicas`,
      500,
    );
    const steps = replicaSteps();
    log(`replica steps: ${steps.map((s) => `${s.replicas}@+${seconds(s.at - tBurst)}s`).join(' ')}`);
    expect(steps.map((s) => s.replicas)).toEqual([1, 2, MAX]);
    const crossed = sampler.samples.find((s) => s.at >= tBurst && s.value > threshold);
    expect(crossed).toBeDefined();
    const up1 = steps[1]?.at as number;
    const up2 = steps[2]?.at as number;
    // +100 % per 15 s: the second doubling waits for the policy period (one HPA sync later).
    expect(up2 - up1).toBeGreaterThanOrEqual(14_000);
    expect(up2 - up1).toBeLessThan(35_000);
    // The controller acts within a sync period (15 s) of the metric crossing the target, plus the
    // time our own 1-s sampler needed to see it.
    expect(up1 - (crossed?.at as number)).toBeLessThan(20_000);
    await eventually(
      () => {
        const pods = poolPods(POOL);
        return pods.length === MAX && pods.every(isReady) ? pods : undefined;
      },
      180_000,
      `${MAX} Ready pods`,
      500,
    );
    // The watch may report the last Ready transition a moment after `kubectl get` shows it.
    const newPods = await eventually(
      () => {
        const entries = [...readyAt().entries()].filter(([name]) => name !== pod1);
        return entries.length === MAX - 1 ? entries : undefined;
      },
      10_000,
      'the Ready events of the new pods',
      200,
    );
    Object.assign(m, {
      thresholdCrossedS: seconds((crossed?.at as number) - tBurst),
      firstScaleUpS: seconds(up1 - tBurst),
      secondScaleUpS: seconds(up2 - tBurst),
      thresholdToScaleUpS: seconds(up1 - (crossed?.at as number)),
      scaleUpToScaleUpS: seconds(up2 - up1),
      // Each new pod: from the scale step that created it (its creationTimestamp, 1-s resolution) to Ready.
      scaleUpToPodReadyS: newPods
        .map(([name, at]) => {
          const created = Date.parse(getJson(['get', 'pod', '-n', NS, name]).metadata.creationTimestamp);
          return seconds(at - (created < up2 - 1000 ? up1 : up2));
        })
        .sort((a, b) => a - b),
      peakDepth: Math.max(...sampler.samples.map((s) => s.value)),
    });
    log(`measured: ${JSON.stringify(m)}`);
  });

  it('new sessions spread over the new pods', async () => {
    for (let i = 3; i < 9; i++) await newSession(i);
    const pods = new Set(sessions.map((x) => x.s.pod));
    expect(pods.size).toBeGreaterThanOrEqual(3);
  });

  it('when the load falls it scales down after the stabilization window, and no session is lost', async () => {
    const results = await burst;
    expect(results.map((r) => r.exitCode)).toEqual(Array.from({ length: BURST }, () => 0));
    expect(results.map((r) => r.stdout.trim()).sort()).toEqual(
      Array.from({ length: BURST }, (_, i) => String(i)).sort(),
    );
    const peakAt = replicaSteps()[2]?.at ?? 0;
    // The queue drains one job at a time: the HPA may step down as soon as fewer than MAX pods'
    // worth of jobs wait (depth ≤ (MAX − 1) × target), but only once that has held for the window.
    const belowMax = sampler.samples.find((s) => s.at > peakAt && s.value <= (MAX - 1) * TARGET_PER_POD);
    const idle = await eventually(
      () => sampler.samples.find((s) => s.at > peakAt && s.value === 0),
      30_000,
      'an empty queue sampled after the burst',
      500,
    ).catch((err: Error) => {
      const tail = sampler.samples
        .filter((s) => s.at > peakAt)
        .map((s) => `${s.value}@+${seconds(s.at - tBurst)}s`);
      throw new Error(`${err.message}; samples after the peak: ${tail.join(' ')}`);
    });
    expect(belowMax).toBeDefined();
    await eventually(
      () => (replicaSteps().at(-1)?.replicas === 1 ? true : undefined),
      240_000,
      'the Deployment back at 1 replica',
      500,
    );
    const down = replicaSteps().filter((s) => s.at > peakAt);
    const since = (at: number): string => `+${seconds(at - (belowMax?.at as number))}s`;
    log(`scale-down steps: ${down.map((s) => `${s.replicas}@${since(s.at)}`).join(' ')}`);
    // Monotonic, at most −50 % (truncated) per step, down to minReplicas.
    let prev = MAX;
    for (const step of down) {
      expect(step.replicas).toBeLessThan(prev);
      expect(step.replicas).toBeGreaterThanOrEqual(Math.trunc(prev * 0.5));
      prev = step.replicas;
    }
    expect(prev).toBe(1);
    const firstDown = down[0]?.at as number;
    // Not before the stabilization window. The HPA keeps one recommendation per 15-s sync and needs
    // every one of the last 30 s to be low: its last high one came before our sampler saw the drop,
    // at most one sync earlier, so the first step comes ≥ window − 15 s after that sighting (2 s of
    // slack for the sampler) and within the window + two syncs.
    const afterDrop = firstDown - (belowMax?.at as number);
    expect(afterDrop).toBeGreaterThanOrEqual((SCALE_DOWN_WINDOW_S - 15 - 2) * 1000);
    expect(afterDrop).toBeLessThanOrEqual((SCALE_DOWN_WINDOW_S + 30) * 1000);
    await eventually(
      () => (poolPods(POOL, true).length === 1 ? true : undefined),
      180_000,
      'the removed pods gone',
      1000,
    );
    const survivor = poolPods(POOL)[0]?.metadata.name as string;
    // Every session: still there, its file intact, and it runs code (on the remaining pod).
    let lost = 0;
    let migrated = 0;
    for (const { s, marker } of sessions) {
      const file = await api.request('GET', `/v1/sessions/${s.id}/files/marker.txt`);
      const run = await api.request<Execution>('POST', `/v1/sessions/${s.id}/executions`, {
        code: 'print(open("marker.txt").read())',
      });
      const after = await api.request<Session>('GET', `/v1/sessions/${s.id}`);
      const ok =
        file.status === 200 &&
        file.raw.toString() === marker &&
        run.status === 200 &&
        run.body.stdout.trim() === marker &&
        after.body.pod === survivor;
      if (!ok) {
        lost++;
        log(
          `session ${s.id} (was on ${s.pod}): file ${file.status}, run ${run.status} ${run.raw.toString()}`,
        );
      }
      if (s.pod !== survivor) {
        migrated++;
        expect(after.body.migrations?.length ?? 0).toBeGreaterThanOrEqual(1);
      }
    }
    Object.assign(m, {
      belowMaxS: seconds((belowMax?.at as number) - tBurst),
      queueEmptyS: seconds((idle?.at as number) - tBurst),
      belowMaxToFirstScaleDownS: seconds(firstDown - (belowMax?.at as number)),
      emptyToLastScaleDownS: seconds((down.at(-1)?.at as number) - (idle?.at as number)),
      scaleDownSteps: down.map((s) => `${s.replicas}@${since(s.at)}`),
      sessions: sessions.length,
      sessionsMigrated: migrated,
      sessionsLost: lost,
    });
    log(`measured: ${JSON.stringify(m)}`);
    record(m);
    expect(migrated).toBeGreaterThanOrEqual(1);
    expect(lost).toBe(0);
  });
});
