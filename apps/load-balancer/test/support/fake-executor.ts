/**
 * A stand-in executor pod for the load balancer's tests (a real BullMQ worker on the pod queue,
 * real heartbeats, real transfers) until the real executor bundle runs. Persistent sessions are
 * snapshotted into Redis (`<prefix>:fake-snap:<id>`) after every change so another fake pod can
 * restore them (migration). The "language" is a subset of Python, so the same tests run against the real
 * executor: `print(<int|name>)`, `<name> = <int>`, `raise SystemExit(<n>)`, `import time`,
 * `time.sleep(<seconds>)`. Env: POOL_NAME, POD_NAME, TEMPLATE, REGION, REDIS_URL, QUEUE_PREFIX,
 * CAPACITY (100), FAIL=open|all (answer `internal`), HANG=1 (never answer).
 */
import { Worker, type Job } from 'bullmq';
import {
  JobError,
  PodJobDefs,
  PodJobs,
  bullConnection,
  createRedis,
  parsePayload,
  podQueueName,
  publishReplies,
  putTransfer,
  removeHeartbeat,
  takeTransfer,
  writeHeartbeat,
} from '@executor/queues';

const env = (k: string, d?: string): string => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is required`);
  return v;
};
const pool = env('POOL_NAME');
const pod = env('POD_NAME');
const template = env('TEMPLATE', 'python');
const region = process.env['REGION'];
const prefix = env('QUEUE_PREFIX', 'executor');
const redisUrl = env('REDIS_URL');
const capacity = Number(env('CAPACITY', '100'));
const fail = process.env['FAIL'] ?? '';
const hang = process.env['HANG'] === '1';

interface FakeSession {
  tenant: string;
  persist: boolean;
  vars: Record<string, string>;
  files: Map<string, { data: Buffer; modifiedAt: string }>;
  packages: { manager: 'pip' | 'npm'; name: string; version: string }[];
  version: number;
}
const sessions = new Map<string, FakeSession>();
const redis = createRedis(redisUrl);
const snapKey = (id: string): string => `${prefix}:fake-snap:${id}`;
let running = 0;

async function snapshot(id: string, s: FakeSession): Promise<number> {
  s.version++;
  const files = [...s.files].map(([p, f]) => [p, f.data.toString('base64'), f.modifiedAt]);
  await redis.set(
    snapKey(id),
    JSON.stringify({ vars: s.vars, files, packages: s.packages, version: s.version }),
  );
  return s.version;
}

async function restore(id: string, s: FakeSession): Promise<number | undefined> {
  const raw = await redis.get(snapKey(id));
  if (!raw) return undefined;
  const snap = JSON.parse(raw) as {
    vars: Record<string, string>;
    files: [string, string, string][];
    packages: FakeSession['packages'];
    version: number;
  };
  s.vars = snap.vars;
  s.files = new Map(snap.files.map(([p, d, m]) => [p, { data: Buffer.from(d, 'base64'), modifiedAt: m }]));
  s.packages = snap.packages;
  s.version = snap.version;
  return snap.version;
}

function session(data: { sessionId: string }): FakeSession {
  const s = sessions.get(data.sessionId);
  if (!s) throw new JobError('session_not_on_pod', `session ${data.sessionId} is not on ${pod}`);
  return s;
}

async function runCode(
  s: FakeSession,
  code: string,
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string; exitCode: number; timedOut: boolean }> {
  let stdout = '';
  for (const line of code
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    let m: RegExpExecArray | null;
    if ((m = /^print\((\w+)\)$/.exec(line))) {
      const v = /^\d+$/.test(m[1] as string) ? m[1] : s.vars[m[1] as string];
      if (v === undefined)
        return { stdout, stderr: `NameError: name '${m[1]}' is not defined\n`, exitCode: 1, timedOut: false };
      stdout += `${v}\n`;
    } else if ((m = /^(\w+)\s*=\s*(\d+)$/.exec(line))) s.vars[m[1] as string] = m[2] as string;
    else if ((m = /^raise SystemExit\((\d+)\)$/.exec(line)))
      return { stdout, stderr: '', exitCode: Number(m[1]), timedOut: false };
    else if (line === 'import time') continue;
    else if ((m = /^time\.sleep\(([\d.]+)\)$/.exec(line))) {
      const ms = Number(m[1]) * 1000;
      if (ms > timeoutMs) {
        await new Promise((r) => setTimeout(r, timeoutMs));
        return { stdout, stderr: '', exitCode: 137, timedOut: true };
      }
      await new Promise((r) => setTimeout(r, ms));
    } else return { stdout, stderr: `SyntaxError: ${line.slice(0, 80)}\n`, exitCode: 1, timedOut: false };
  }
  return { stdout, stderr: '', exitCode: 0, timedOut: false };
}

async function handle(job: Job): Promise<unknown> {
  if (hang) return new Promise(() => undefined);
  if (fail === 'all' || (fail === 'open' && job.name === PodJobs.open))
    throw new JobError('internal', `${pod} is failing on purpose`);
  switch (job.name) {
    case PodJobs.open: {
      const p = parsePayload(PodJobDefs.open, job.data);
      const s: FakeSession = {
        tenant: p.tenant,
        persist: p.persist,
        vars: {},
        files: new Map(),
        packages: [],
        version: 0,
      };
      const restoredVersion = p.restore ? await restore(p.sessionId, s) : undefined;
      sessions.set(p.sessionId, s);
      return {
        pod,
        restored: restoredVersion !== undefined,
        ...(restoredVersion !== undefined ? { restoredVersion } : {}),
      };
    }
    case PodJobs.execute: {
      const p = parsePayload(PodJobDefs.execute, job.data);
      const s = session(p);
      const at = new Date().toISOString();
      const started = performance.now();
      running++;
      const r = await runCode(s, p.code, p.timeoutMs).finally(() => running--);
      const snapshotVersion = s.persist && /=/.test(p.code) ? await snapshot(p.sessionId, s) : undefined;
      return {
        id: p.executionId,
        ...r,
        durationMs: performance.now() - started,
        truncated: false,
        at,
        ...(snapshotVersion ? { snapshotVersion } : {}),
      };
    }
    case PodJobs.persist: {
      const p = parsePayload(PodJobDefs.persist, job.data);
      const s = session(p);
      const version = await snapshot(p.sessionId, s);
      return {
        version,
        bytes: [...s.files.values()].reduce((n, f) => n + f.data.length, 0),
        at: new Date().toISOString(),
      };
    }
    case PodJobs.close: {
      const p = parsePayload(PodJobDefs.close, job.data);
      const closed = sessions.delete(p.sessionId);
      if (p.deleteState) await redis.del(snapKey(p.sessionId));
      return { closed };
    }
    case PodJobs.filesPut: {
      const p = parsePayload(PodJobDefs.filesPut, job.data);
      const s = session(p);
      const data = await takeTransfer(redis, p.blob);
      s.files.set(p.path, { data, modifiedAt: new Date().toISOString() });
      if (s.persist) await snapshot(p.sessionId, s);
      return { size: data.length };
    }
    case PodJobs.filesGet: {
      const p = parsePayload(PodJobDefs.filesGet, job.data);
      const f = session(p).files.get(p.path);
      if (!f) throw new JobError('not_found', `file "${p.path}" not found`);
      return { blob: await putTransfer(redis, f.data, { prefix }), size: f.data.length };
    }
    case PodJobs.filesList: {
      const s = session(parsePayload(PodJobDefs.filesList, job.data));
      return {
        items: [...s.files]
          .map(([path, f]) => ({ path, size: f.data.length, modifiedAt: f.modifiedAt }))
          .sort((a, b) => a.path.localeCompare(b.path)),
      };
    }
    case PodJobs.filesDelete: {
      const p = parsePayload(PodJobDefs.filesDelete, job.data);
      const s = session(p);
      const deleted = s.files.delete(p.path);
      if (deleted && s.persist) await snapshot(p.sessionId, s);
      return { deleted };
    }
    case PodJobs.packagesInstall: {
      const p = parsePayload(PodJobDefs.packagesInstall, job.data);
      const s = session(p);
      const installed = p.packages.map((spec) => {
        const [name, version = '1.0.0'] = spec.split('==') as [string, string?];
        return { name, version };
      });
      for (const i of installed) s.packages.push({ manager: p.manager ?? 'pip', ...i });
      if (s.persist) await snapshot(p.sessionId, s);
      return { installed };
    }
    case PodJobs.packagesList:
      return { items: session(parsePayload(PodJobDefs.packagesList, job.data)).packages };
    default:
      throw new JobError('invalid_argument', `unknown job ${job.name}`);
  }
}

async function main(): Promise<void> {
  const worker = new Worker(podQueueName(pod), handle, {
    connection: bullConnection(redisUrl),
    prefix,
    concurrency: 32,
  });
  publishReplies(worker, redis, prefix);
  await worker.waitUntilReady();
  const startedAt = new Date().toISOString();
  const beat = (): Promise<void> =>
    writeHeartbeat(
      redis,
      {
        pool,
        pod,
        template,
        ...(region ? { region } : {}),
        capacity,
        sessions: sessions.size,
        running,
        load: 0,
        version: 'fake',
        queue: podQueueName(pod),
        accepting: true,
        startedAt,
        at: new Date().toISOString(),
      },
      { prefix },
    );
  await beat();
  setInterval(() => void beat().catch(() => undefined), 1000);
  process.stdout.write(`fake executor ${pod} ready\n`);
  process.on('SIGTERM', () => {
    void removeHeartbeat(redis, pool, pod, prefix).finally(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`fake executor failed: ${String(err)}\n`);
  process.exit(1);
});
