/**
 * `nx run load-balancer:bench`: session-create and execute round trips through the built
 * load balancer (dist) to a real executor process (warm python), next to the app's bare
 * `GET /ping`, at a few concurrencies; one run, every service on this machine.
 * Writes tmp/load-balancer/bench.json and prints a markdown table (README numbers).
 * Env: BENCH_SECONDS (per level, default 4), BENCH_CONCURRENCY (default "1,4,16"),
 * BENCH_STREAM_RUNS (first-chunk latency runs, default 20; 0 = skip), BENCH_ONLY=streaming.
 *
 * Streaming: `print(<time.time()>, flush=True); time.sleep(1); print('b')` in a warm session,
 * streamed through the load balancer (/v1 NDJSON and E2B's /execute); the kernel stamps the print
 * time, the client the arrival of the first chunk (same clock): the difference is the first
 * chunk's latency kernel → executor → Redis pub/sub → load balancer → client.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'bullmq';
import {
  JobRpcClient,
  PodJobDefs,
  PodJobs,
  bullConnection,
  createRedis,
  podHeartbeat,
  podQueueName,
  publishReplies,
  writeHeartbeat,
} from '@executor/queues';
import { startRedis, uniquePrefix } from '@executor/testing';

const ROOT = resolve(__dirname, '../../..');
const LB = join(ROOT, 'dist/apps/load-balancer/main.js');
const EXECUTOR = join(ROOT, 'dist/apps/executor/main.js');
const KEY = 'bench-key-000001';
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 4);
const LEVELS = (process.env['BENCH_CONCURRENCY'] ?? '1,4,16').split(',').map(Number);
const WARMUP_MS = 500;

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
let base = '';

interface Res {
  status: number;
  body: string;
}

function call(method: string, path: string, body?: unknown): Promise<Res> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolvePromise, reject) => {
    const req = http.request(
      `${base}${path}`,
      {
        method,
        agent,
        headers: {
          authorization: `Bearer ${KEY}`,
          ...(payload
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {}),
        },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

interface Row {
  scenario: string;
  concurrency: number;
  requests: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** CPU milliseconds per request of each process (load balancer, executor, redis, load generator). */
  cpuPerRequest: Record<string, number>;
}

/** Processes whose CPU time is sampled around each measurement. */
const watched = new Map<string, number>();

/** utime + stime of a process in ms (/proc, clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/** CPU of a process plus its direct children (the executor's python kernels); the bench itself via cpuUsage. */
function treeCpuMs(pid: number): number {
  if (pid === process.pid) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  let total = cpuMs(pid);
  try {
    for (const k of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean))
      total += cpuMs(Number(k));
  } catch {
    // no children file
  }
  return total;
}

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** Runs `op` from `concurrency` loops for SECONDS (after a warm-up); latency in ms. */
async function measure(
  scenario: string,
  concurrency: number,
  op: (worker: number) => Promise<boolean>,
): Promise<Row> {
  const lat: number[] = [];
  let errors = 0;
  let cpuBefore = new Map<string, number>();
  let firstError: string | undefined;
  const warmEnd = performance.now() + WARMUP_MS;
  const end = warmEnd + SECONDS * 1000;
  const cpuTimer = setTimeout(
    () => (cpuBefore = new Map([...watched].map(([k, pid]) => [k, treeCpuMs(pid)]))),
    WARMUP_MS,
  );
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const ok = await op(w).catch((err: Error) => {
          firstError ??= err.message;
          return false;
        });
        const t1 = performance.now();
        if (t0 < warmEnd) continue;
        if (ok) lat.push(t1 - t0);
        else errors++;
      }
    }),
  );
  clearTimeout(cpuTimer);
  const cpuPerRequest = Object.fromEntries(
    [...watched].map(([k, pid]) => [
      k,
      Number(((treeCpuMs(pid) - (cpuBefore.get(k) ?? NaN)) / Math.max(1, lat.length)).toFixed(3)),
    ]),
  );
  lat.sort((a, b) => a - b);
  if (firstError) process.stderr.write(`${scenario} c=${concurrency}: first error: ${firstError}\n`);
  return {
    scenario,
    concurrency,
    requests: lat.length,
    errors,
    perSecond: lat.length / SECONDS,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    cpuPerRequest,
  };
}

function start(file: string, env: Record<string, string>, nodeArgs: string[] = []): ChildProcess {
  const child = spawn(process.execPath, [...nodeArgs, file], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
  if (process.env['BENCH_ECHO']) child.stdout?.on('data', (d: Buffer) => process.stdout.write(d));
  return child;
}

function waitForLine(child: ChildProcess, re: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolvePromise, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`no ${re} in 60 s: ${out.slice(-1000)}`)), 60_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) {
        clearTimeout(t);
        resolvePromise(m);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited (${code}): ${out.slice(-1000)}`)));
  });
}

/** Sends a request and resolves at the first NDJSON line that contains `marker` (whole stream read after). */
function firstLine(
  path: string,
  headers: Record<string, string>,
  body: unknown,
  marker: string,
): Promise<{ line: string; at: number; done: Promise<void> }> {
  const payload = JSON.stringify(body);
  return new Promise((resolvePromise, reject) => {
    const req = http.request(
      `${base}${path}`,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          ...headers,
        },
      },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`${path}: HTTP ${res.statusCode}`));
        let buf = '';
        let found = false;
        let ended!: () => void;
        const done = new Promise<void>((r) => (ended = r));
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          const at = performance.timeOrigin + performance.now();
          buf += c;
          if (found) return;
          for (const line of buf.split('\n')) {
            if (line.includes(marker)) {
              found = true;
              resolvePromise({ line, at, done });
              return;
            }
          }
        });
        res.on('end', () => {
          ended();
          if (!found) reject(new Error(`${path}: no line with ${marker}`));
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const STREAM_CODE =
  "import time\nprint(f'first {time.time() * 1000:.3f}', flush=True)\ntime.sleep(1)\nprint('b')";

/** First-chunk latency (ms) of streamed executions through the load balancer: /v1 NDJSON and E2B /execute. */
async function streamingLatency(runs: number): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = { 'v1 ndjson': [], 'e2b /execute': [] };
  const s = await call('POST', '/v1/sessions', { template: 'python', persist: false });
  const id = (JSON.parse(s.body) as { id: string }).id;
  const sbx = await new Promise<{ sandboxID: string; envdAccessToken: string }>((res, rej) => {
    const payload = JSON.stringify({ templateID: 'python', timeout: 600 });
    const req = http.request(
      `${base}/v2/sandboxes`,
      {
        method: 'POST',
        agent,
        headers: {
          'x-api-key': KEY,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (r) => {
        let d = '';
        r.on('data', (c: Buffer) => (d += c.toString()));
        r.on('end', () =>
          r.statusCode === 201 ? res(JSON.parse(d)) : rej(new Error(`E2B create: ${r.statusCode} ${d}`)),
        );
      },
    );
    req.on('error', rej);
    req.end(payload);
  });
  const stamp = (line: string): number => Number(/first (\d+\.\d+)/.exec(line)?.[1]);
  for (let i = 0; i < runs + 1; i++) {
    const v1 = await firstLine(
      `/v1/sessions/${id}/executions`,
      { authorization: `Bearer ${KEY}`, accept: 'application/x-ndjson' },
      { code: STREAM_CODE },
      'first ',
    );
    await v1.done;
    const e2b = await firstLine(
      '/execute',
      { 'e2b-sandbox-id': sbx.sandboxID, 'e2b-sandbox-port': '49999', 'x-access-token': sbx.envdAccessToken },
      { code: STREAM_CODE },
      'first ',
    );
    await e2b.done;
    if (i === 0) continue; // warm-up
    out['v1 ndjson']?.push(v1.at - stamp(v1.line));
    out['e2b /execute']?.push(e2b.at - stamp(e2b.line));
  }
  return out;
}

async function main(): Promise<void> {
  for (const f of [LB, EXECUTOR]) {
    if (!existsSync(f))
      throw new Error(
        `${f} is missing: run \`npx nx build load-balancer\` and \`npx nx build executor\` first`,
      );
  }
  const redis = await startRedis();
  const client = createRedis(redis.url);
  const prefix = uniquePrefix('bench');
  const children: ChildProcess[] = [];
  try {
    const exec = start(EXECUTOR, {
      POOL_NAME: 'py',
      POD_NAME: 'py-0',
      TEMPLATE: 'python',
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      WORKSPACE_ROOT: mkdtempSync(join(tmpdir(), 'bench-ws-')),
      PORT: '0',
      SANDBOX: 'none',
      MAX_SESSIONS: '1000',
      WARM_KERNELS: '2',
    });
    children.push(exec);
    const lb = start(
      LB,
      {
        REDIS_URL: redis.url,
        QUEUE_PREFIX: prefix,
        PORT: '0',
        EXECUTOR_API_KEYS: `bench:${KEY}`,
        LOG_LEVEL: 'warn',
        REPLICA_ID: 'bench',
      },
      (process.env['BENCH_LB_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
    );
    children.push(lb);
    base = (await waitForLine(lb, /listening on (http:\/\/[\d.:]+)/))[1] as string;
    watched
      .set('lb', lb.pid as number)
      .set('executor', exec.pid as number)
      .set('bench', process.pid);
    const redisPid = Number(
      execFileSync('pgrep', ['-f', `redis-server.*:${redis.port}`], { encoding: 'utf8' })
        .trim()
        .split('\n')[0],
    );
    if (redisPid) watched.set('redis', redisPid);
    while (!(await podHeartbeat(client, 'py-0', prefix))) await new Promise((r) => setTimeout(r, 100));
    const reg = await call('POST', '/v1/pools', { name: 'py', template: 'python' });
    if (reg.status !== 201) throw new Error(`pool registration failed: ${reg.status} ${reg.body}`);
    // A pod whose session.open costs nothing (in-process BullMQ worker): the load balancer's own create capacity.
    const nullPod = new Worker(
      podQueueName('null-0'),
      async (job) => (job.name === PodJobs.open ? { pod: 'null-0', restored: false } : { closed: true }),
      {
        connection: bullConnection(redis.url),
        prefix,
        concurrency: 64,
      },
    );
    publishReplies(nullPod, client, prefix);
    const hb = {
      pool: 'null',
      pod: 'null-0',
      template: 'bash',
      capacity: 1_000_000,
      sessions: 0,
      running: 0,
      load: 0,
      version: 'bench',
      queue: podQueueName('null-0'),
      accepting: true,
      startedAt: new Date().toISOString(),
      at: '',
    };
    const beat = (): Promise<void> =>
      writeHeartbeat(client, { ...hb, at: new Date().toISOString() }, { prefix });
    await beat();
    const beater = setInterval(() => void beat(), 1000);
    if ((await call('POST', '/v1/pools', { name: 'null', template: 'bash' })).status !== 201)
      throw new Error('null pool registration failed');

    const streamRuns = Number(process.env['BENCH_STREAM_RUNS'] ?? 20);
    let streaming: Record<string, { p50: number; p90: number; max: number; runs: number }> = {};
    if (streamRuns > 0) {
      const lat = await streamingLatency(streamRuns);
      const pct = (xs: number[], p: number): number =>
        [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;
      streaming = Object.fromEntries(
        Object.entries(lat).map(([k, xs]) => [
          k,
          { p50: pct(xs, 0.5), p90: pct(xs, 0.9), max: Math.max(...xs), runs: xs.length },
        ]),
      );
      for (const [k, v] of Object.entries(streaming))
        process.stdout.write(
          `first chunk ${k.padEnd(14)} p50 ${v.p50.toFixed(2)} ms  p90 ${v.p90.toFixed(2)} ms  max ${v.max.toFixed(2)} ms  (${v.runs} runs; print → client, same clock)\n`,
        );
    }
    if (process.env['BENCH_ONLY'] === 'streaming') {
      const dir = join(ROOT, 'tmp', 'load-balancer');
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        join(dir, 'bench-streaming.json'),
        JSON.stringify({ at: new Date().toISOString(), streaming }, null, 2),
      );
      clearInterval(beater);
      await nullPod.close();
      return;
    }

    const rows: Row[] = [];
    const report = (r: Row): void => {
      rows.push(r);
      process.stdout.write(
        `${r.scenario.padEnd(26)} c=${String(r.concurrency).padEnd(3)} ${r.perSecond.toFixed(0).padStart(6)}/s  p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  errors ${r.errors}  cpu ms/req ${JSON.stringify(r.cpuPerRequest)}\n`,
      );
    };
    const maxC = Math.max(...LEVELS);
    // Warm sessions: one per worker, each with a kernel that already ran code.
    const warm: string[] = [];
    for (let i = 0; i < maxC; i++) {
      const s = await call('POST', '/v1/sessions', { template: 'python', persist: false });
      if (s.status !== 201) throw new Error(`create failed: ${s.status} ${s.body}`);
      const id = (JSON.parse(s.body) as { id: string }).id;
      const e = await call('POST', `/v1/sessions/${id}/executions`, { code: 'print(1)' });
      if (e.status !== 200) throw new Error(`warm-up execution failed: ${e.status} ${e.body}`);
      warm.push(id);
    }
    // The floor under the load balancer: the same execute job sent straight to the pod queue.
    const rpc = new JobRpcClient({ redisUrl: redis.url, prefix, callerId: 'bench-direct' });
    const direct: string[] = [];
    for (let i = 0; i < maxC; i++) {
      const sessionId = `direct-${i}`;
      await rpc.call(
        podQueueName('py-0'),
        PodJobDefs.open,
        {
          sessionId,
          tenant: 'bench',
          template: 'python',
          pool: 'py',
          persist: false,
          ttlSeconds: 3600,
          env: {},
          metadata: {},
          restore: false,
        },
        { timeoutMs: 30_000 },
      );
      direct.push(sessionId);
    }
    let seq = 0;
    const directExecute = async (w: number): Promise<boolean> => {
      const r = await rpc.call(
        podQueueName('py-0'),
        PodJobDefs.execute,
        {
          sessionId: direct[w] as string,
          tenant: 'bench',
          executionId: `d-${seq++}`,
          code: 'print(1)',
          timeoutMs: 30_000,
        },
        { timeoutMs: 30_000 },
      );
      return r.stdout === '1\n';
    };
    const executeOp = async (w: number): Promise<boolean> => {
      const r = await call('POST', `/v1/sessions/${warm[w]}/executions`, { code: 'print(1)' });
      if (r.status !== 200 || !r.body.includes('"stdout":"1\\n"'))
        throw new Error(`${r.status} ${r.body.slice(0, 300)}`);
      return true;
    };
    const only = process.env['BENCH_ONLY'];
    for (const c of LEVELS) {
      if (only === 'execute') {
        report(await measure('execute print(1)', c, executeOp));
        continue;
      }
      report(await measure('bare GET /ping', c, async () => (await call('GET', '/ping')).status === 200));
      report(
        await measure(
          'GET session (auth+Lua)',
          c,
          async (w) => (await call('GET', `/v1/sessions/${warm[w]}`)).status === 200,
        ),
      );
      report(await measure('direct RPC execute', c, directExecute));
      report(await measure('execute print(1)', c, executeOp));
      const created: string[] = [];
      report(
        await measure('create session', c, async () => {
          const r = await call('POST', '/v1/sessions', { template: 'python', persist: false });
          if (r.status !== 201) return false;
          created.push((JSON.parse(r.body) as { id: string }).id);
          return true;
        }),
      );
      report(
        await measure(
          'create (instant-open pod)',
          c,
          async () =>
            (await call('POST', '/v1/sessions', { template: 'bash', persist: false })).status === 201,
        ),
      );
      // Not measured: free the pod's capacity for the next level.
      for (let i = 0; i < created.length; i += 32)
        await Promise.all(created.slice(i, i + 32).map((id) => call('DELETE', `/v1/sessions/${id}`)));
    }
    await rpc.close();
    clearInterval(beater);
    await nullPod.close();
    const out = {
      at: new Date().toISOString(),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      secondsPerLevel: SECONDS,
      streaming,
      rows,
    };
    const dir = join(ROOT, 'tmp', 'load-balancer');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'bench.json'), JSON.stringify(out, null, 2));
    const bare = new Map(rows.filter((r) => r.scenario.startsWith('bare')).map((r) => [r.concurrency, r]));
    const floor = new Map(rows.filter((r) => r.scenario.startsWith('direct')).map((r) => [r.concurrency, r]));
    process.stdout.write(
      '\n| scenario | c | req/s | p50 ms | p99 ms | errors | bare /ping req/s ÷ this | LB p50 − direct p50 | CPU ms/req: LB / executor / redis / load gen |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n',
    );
    for (const r of rows) {
      const ratio = ((bare.get(r.concurrency)?.perSecond ?? NaN) / r.perSecond).toFixed(1);
      const over = r.scenario.startsWith('execute')
        ? `${(r.p50 - (floor.get(r.concurrency)?.p50 ?? NaN)).toFixed(3)} ms`
        : '';
      const cpu = ['lb', 'executor', 'redis', 'bench']
        .map((k) => (r.cpuPerRequest[k] ?? NaN).toFixed(2))
        .join(' / ');
      process.stdout.write(
        `| ${r.scenario} | ${r.concurrency} | ${r.perSecond.toFixed(0)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.errors} | ${ratio} | ${over} | ${cpu} |\n`,
      );
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)),
    );
    agent.destroy();
    client.disconnect();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
