// `nx run e2e:load`: N concurrent sessions doing M executions each against the platform as
// `npm start` runs it; reports throughput, p50/p99 latency, errors (must be 0) and the peak
// memory (VmHWM) of every service. LOAD_SESSIONS, LOAD_EXECUTIONS, LOAD_EXECUTORS override.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Platform } from '@executor/launcher';

const sessions = Number(process.env['LOAD_SESSIONS'] ?? 32);
const executions = Number(process.env['LOAD_EXECUTIONS'] ?? 100);
const executors = Number(process.env['LOAD_EXECUTORS'] ?? 2);

function peakKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'executor-load-'));
  const key = randomBytes(12).toString('hex');
  const platform = await Platform.start({
    rootDir: join(__dirname, '..', '..', '..'),
    dataDir,
    lbPorts: [0],
    apiKeys: `load:${key}`,
    pools: [{ name: 'python', template: 'python', replicas: executors }],
    env: {
      executor: { MAX_SESSIONS: String(Math.max(64, sessions)) },
      // One tenant drives the whole load: its abuse limits must not be what is measured.
      loadBalancer: {
        RATE_LIMIT_MAX: '1000000000',
        TENANT_MAX_SESSIONS: String(Math.max(100, sessions * 2)),
        TENANT_MAX_RUNNING_EXECUTIONS: String(Math.max(64, sessions * 2)),
      },
    },
  });
  const url = platform.urls[0] as string;
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const latencies: number[] = [];
  let errors = 0;
  const peaks: Record<string, number> = {};
  const sampler = setInterval(() => {
    for (const [name, pid] of Object.entries(platform.processes()))
      peaks[name] = Math.max(peaks[name] ?? 0, peakKb(pid));
  }, 250);
  try {
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: sessions }, async () => {
        const c = await fetch(`${url}/v1/sessions`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ template: 'python', persist: false }),
        });
        if (c.status !== 201) {
          errors++;
          return;
        }
        const { id } = (await c.json()) as { id: string };
        for (let i = 0; i < executions; i++) {
          const s = performance.now();
          const r = await fetch(`${url}/v1/sessions/${id}/executions`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ code: `x = ${i}\nprint(x)` }),
          });
          const body = (await r.json()) as { stdout?: string };
          latencies.push(performance.now() - s);
          if (r.status !== 200 || body.stdout !== `${i}\n`) errors++;
        }
      }),
    );
    const elapsed = (performance.now() - t0) / 1000;
    latencies.sort((x, y) => x - y);
    console.log(`\nload: ${sessions} sessions × ${executions} executions on ${executors} python executors`);
    console.log(
      `  executions:  ${latencies.length} in ${elapsed.toFixed(2)} s = ${(latencies.length / elapsed).toFixed(0)} /s`,
    );
    console.log(
      `  latency:     p50 ${pct(latencies, 50).toFixed(2)} ms, p99 ${pct(latencies, 99).toFixed(2)} ms`,
    );
    console.log(`  errors:      ${errors}`);
    console.log('  peak memory (VmHWM):');
    for (const [name, kb] of Object.entries(peaks))
      console.log(`    ${name.padEnd(24)} ${(kb / 1024).toFixed(1)} MiB`);
  } finally {
    clearInterval(sampler);
    await platform.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  if (errors > 0) process.exit(1);
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
