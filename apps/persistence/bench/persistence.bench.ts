// nx run persistence:bench — snapshot/restore through the real queues against a real
// redis-server (AOF on, appendfsync everysec, as redis.conf ships), the Nest app in-process.
import { loadavg } from 'node:os';
import { register } from 'prom-client';
import {
  JobRpcClient,
  PersistenceJobDefs,
  QueueNames,
  createRedis,
  putTransfer,
  takeTransfer,
} from '@executor/queues';
import {
  decodeState,
  encodeState,
  hashContent,
  type SessionState,
  type WorkspaceEntry,
} from '@executor/session-state';
import { startRedis, uniquePrefix } from '@executor/testing';
import { largeFiles, smallFiles } from '@executor/session-state/bench';
import { createApp } from '../src/app/bootstrap';
import { loadPersistenceConfig } from '../src/app/config/config';
import { StateStore } from '../src/app/store/state-store';

const MB = 1e6;
const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const ms = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e6;
/** CPU ms of this process since `c` (user + system): the machine is shared, wall time is not. */
const cpu = (c: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1000;
};

function state(sessionId: string, files: WorkspaceEntry[], baseVersion: number | null = null): SessionState {
  const now = new Date().toISOString();
  return {
    schemaVersion: 1,
    sessionId,
    tenant: 'bench',
    poolName: 'python',
    podName: 'python-0',
    template: 'python',
    createdAt: now,
    expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    ttlSeconds: 3600,
    persist: true,
    files,
    env: { A: '1' },
    history: [],
    packages: [],
    metadata: {},
    baseVersion,
  };
}

async function main(): Promise<void> {
  const redis = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'everysec'] });
  const config = loadPersistenceConfig({
    REDIS_URL: redis.url,
    QUEUE_PREFIX: uniquePrefix('bench'),
    PORT: '0',
    MAX_SNAPSHOT_BYTES: String(512 * 1024 * 1024),
    SESSION_QUOTA_BYTES: '0',
  });
  register.clear();
  const app = await createApp(config, { logger: false });
  await app.init();
  const store = app.get(StateStore);
  const client = new JobRpcClient({ redisUrl: redis.url, prefix: config.QUEUE_PREFIX });
  const cmd = createRedis(redis.url);
  let n = 0;

  /** Redis server CPU ms so far (INFO cpu), to add Redis' own work to the CPU figure. */
  const redisCpu = async (): Promise<number> => {
    const info = await cmd.info('cpu');
    const num = (k: string): number => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
    return (num('used_cpu_sys') + num('used_cpu_user')) * 1000;
  };
  const snap = async (
    s: SessionState,
    fileBlobs = true,
  ): Promise<{
    ms: number;
    cpuMs: number;
    encodeMs: number;
    storedBytes: number;
    newBlobs: number;
    version: number;
  }> => {
    const ce = process.cpuUsage();
    const encoded = encodeState(s, { fileBlobs }); // the executor's work: reported apart, not in the snapshot time
    const enc = process.cpuUsage(ce);
    const encodeMs = (enc.user + enc.system) / 1000;
    const r0 = await redisCpu();
    const c = process.cpuUsage();
    const t = process.hrtime.bigint();
    const ref = await putTransfer(cmd, encoded, { prefix: config.QUEUE_PREFIX });
    const r = await client.call(
      QueueNames.snapshot,
      PersistenceJobDefs.snapshot,
      {
        sessionId: s.sessionId,
        tenant: s.tenant,
        pool: s.poolName,
        pod: s.podName,
        template: s.template,
        trigger: 'periodic',
        ttlSeconds: s.ttlSeconds,
        expiresAt: s.expiresAt,
        baseVersion: s.baseVersion ?? null,
        state: ref,
      },
      { timeoutMs: 600_000 },
    );
    const wall = ms(t);
    const cpuMs = cpu(c) + (await redisCpu()) - r0;
    return {
      ms: wall,
      cpuMs,
      encodeMs,
      storedBytes: r.storedBytes,
      newBlobs: r.newBlobs,
      version: r.version,
    };
  };
  const rest = async (sid: string): Promise<{ ms: number; cpuMs: number; decodeMs: number }> => {
    const r0 = await redisCpu();
    const c = process.cpuUsage();
    const t = process.hrtime.bigint();
    const r = await client.call(
      QueueNames.restore,
      PersistenceJobDefs.restore,
      { sessionId: sid },
      { timeoutMs: 600_000 },
    );
    const buf = await takeTransfer(cmd, r.state as never);
    const total = ms(t);
    const cpuMs = cpu(c) + (await redisCpu()) - r0;
    const c2 = process.cpuUsage();
    decodeState(buf);
    return { ms: total, cpuMs, decodeMs: cpu(c2) };
  };

  const load = (): string => (loadavg()[0] ?? 0).toFixed(1);
  console.log(
    `persistence bench (node ${process.version}; median of ${RUNS} runs, 1 for 100 MB; fresh content each run; load average ${load()})\n`,
  );
  console.log(
    '| workspace | logical MB | snapshot ms wall / CPU | restore ms wall / CPU | executor encode / decode CPU ms | physical MB stored | logical / physical |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  const shapes: Array<[string, (bytes: number, seed: number) => WorkspaceEntry[], boolean]> = [
    ['many small files', (b, seed) => smallFiles(b, Math.max(20, Math.round(b / 5000)), seed), true],
    ['4 large files', (b, seed) => largeFiles(b, seed), true],
    [
      'many small files, packed stream',
      (b, seed) => smallFiles(b, Math.max(20, Math.round(b / 5000)), seed),
      false,
    ],
  ];
  for (const size of [1, 10, 100]) {
    for (const [label, make, fileBlobs] of shapes) {
      if (!fileBlobs && size !== 10) continue;
      const runs = size >= 100 ? 1 : RUNS;
      const snaps: number[] = [];
      const snapCpu: number[] = [];
      const restCpu: number[] = [];
      const restores: number[] = [];
      const decodes: number[] = [];
      const encodes: number[] = [];
      let stored = 0;
      let logical = 0;
      let files = 0;
      for (let r = 0; r < runs; r++) {
        const ws = make(size * MB, 1000 * size + r + (label.startsWith('4') ? 500 : 0));
        files = ws.length;
        logical = ws.reduce((a, f) => a + f.size, 0);
        const sid = `b${n++}`;
        const s = await snap(state(sid, ws), fileBlobs);
        encodes.push(s.encodeMs);
        snaps.push(s.ms);
        snapCpu.push(s.cpuMs);
        stored = s.storedBytes;
        const rr = await rest(sid);
        restores.push(rr.ms);
        restCpu.push(rr.cpuMs);
        decodes.push(rr.decodeMs);
        await store.delete(sid);
      }
      console.log(
        `| ${label} (${files}) | ${(logical / MB).toFixed(1)} | ${median(snaps).toFixed(0)} / ${median(snapCpu).toFixed(0)} | ${median(restores).toFixed(0)} / ${median(restCpu).toFixed(0)} | ${median(encodes).toFixed(0)} / ${median(decodes).toFixed(0)} | ${(stored / MB).toFixed(2)} | ${(logical / stored).toFixed(2)} |`,
      );
    }
  }

  // Incremental: a 10 MB / 2000-file workspace, then one file changes (delta with one content).
  const ws = smallFiles(10 * MB, 2000, 4242);
  const base = await snap(state('incr', ws));
  const incr: Array<{ ms: number; cpuMs: number; storedBytes: number; newBlobs: number }> = [];
  let prev = ws;
  for (let r = 0; r < RUNS; r++) {
    const i = 100 + r;
    const changed = Buffer.concat([prev[i]?.content as Buffer, Buffer.from(`\n# edit ${r}\n`)]);
    const next = prev.map((f, j) =>
      j === i ? { ...f, size: changed.length, hash: hashContent(changed), content: changed } : f,
    );
    const delta = next.map((f, j) => (j === i ? f : { ...f, content: undefined }));
    incr.push(await snap(state('incr', delta, base.version + r)));
    prev = next;
  }
  const mid = incr.sort((a, b) => a.ms - b.ms)[Math.floor(incr.length / 2)] as (typeof incr)[number];
  const restoreIncr = await rest('incr');
  console.log(
    `\n| incremental snapshot, 10 MB / 2000 files, one ~5 KB file changed | ${mid.ms.toFixed(1)} ms wall / ${mid.cpuMs.toFixed(1)} ms CPU | new blobs ${mid.newBlobs} | stored ${(mid.storedBytes / 1024).toFixed(1)} KiB (blob + manifest + hash list) | full snapshot was ${base.ms.toFixed(0)} ms |`,
  );
  console.log(
    `| restore of that session (latest version) | ${restoreIncr.ms.toFixed(0)} ms wall / ${restoreIncr.cpuMs.toFixed(0)} ms CPU | | | |`,
  );
  console.log(`\nload average at the end: ${load()}`);
  const stats = await store.stats();
  console.log(
    `\nstore after the bench: logical ${(stats.logicalBytes / MB).toFixed(1)} MB, physical ${(stats.physicalBytes / MB).toFixed(2)} MB, ${stats.blobs} blobs, ${stats.versions} versions`,
  );

  await client.close();
  await app.close();
  cmd.disconnect();
  await redis.stop();
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
