// nx run session-state:bench — codec throughput vs plain gzip, codec choice, incremental size.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { decodeState, encodeState } from '../src/lib/codec';
import type { CodecName } from '../src/lib/compression';
import type { SessionState, WorkspaceEntry } from '../src/lib/model';
import { captureWorkspace, diffWorkspace, restoreWorkspace, stripContent } from '../src/lib/workspace';
import { largeFiles, smallFiles } from './corpus';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 5);
const MB = 1e6;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Median CPU time (user + system) of `fn`: the machine is shared, so wall time is not a measure. */
function time<T>(fn: () => T): { ms: number; out: T } {
  let out!: T;
  const ms: number[] = [];
  fn(); // warm-up
  for (let i = 0; i < RUNS; i++) {
    const c = process.cpuUsage();
    out = fn();
    const d = process.cpuUsage(c);
    ms.push((d.user + d.system) / 1000);
  }
  return { ms: median(ms), out };
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<{ ms: number; out: T }> {
  let out!: T;
  const ms: number[] = [];
  await fn();
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    out = await fn();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { ms: median(ms), out };
}

function state(files: WorkspaceEntry[]): SessionState {
  return {
    schemaVersion: 1,
    sessionId: 'bench',
    tenant: 't',
    poolName: 'p',
    podName: 'p-0',
    template: 'python',
    createdAt: new Date(0).toISOString(),
    expiresAt: new Date(0).toISOString(),
    ttlSeconds: 60,
    persist: true,
    files,
    env: {},
    history: [],
    packages: [],
    metadata: {},
  };
}

const mbps = (bytes: number, ms: number): string => (bytes / MB / (ms / 1000)).toFixed(0);

function codecTable(label: string, files: WorkspaceEntry[]): string[] {
  const s = state(files);
  const logical = files.reduce((n, f) => n + f.size, 0);
  const plain = Buffer.concat(files.map((f) => f.content as Buffer));
  const gz = time(() => gzipSync(plain));
  const gunz = time(() => gunzipSync(gz.out));
  const rows = [
    `| ${label} | plain zlib.gzipSync (level 6) | ${(gz.out.length / MB).toFixed(2)} | ${mbps(logical, gz.ms)} | ${mbps(logical, gunz.ms)} | 1.00 / 1.00 |`,
  ];
  const variants: Array<[string, CodecName, number | undefined]> = [
    ['encodeState brotli q1 (default)', 'brotli', 1],
    ['encodeState brotli q4', 'brotli', 4],
    ['encodeState gzip 6', 'gzip', 6],
    ['encodeState none', 'none', undefined],
  ];
  for (const [name, codec, level] of variants) {
    const enc = time(() => encodeState(s, { compression: { codec, level } }));
    const dec = time(() => decodeState(enc.out));
    rows.push(
      `| ${label} | ${name} | ${(enc.out.length / MB).toFixed(2)} | ${mbps(logical, enc.ms)} | ${mbps(logical, dec.ms)} | ${(gz.ms / enc.ms).toFixed(2)} / ${(gunz.ms / dec.ms).toFixed(2)} |`,
    );
  }
  return rows;
}

async function incremental(files: WorkspaceEntry[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ss-bench-'));
  try {
    await restoreWorkspace(dir, files); // mtimes set in the past: no racy entries
    const capture = await timeAsync(() => captureWorkspace(dir));
    const full = encodeState(state(capture.out));
    const prev = stripContent(capture.out);
    const target = files[Math.floor(files.length / 2)] as WorkspaceEntry;
    writeFileSync(
      join(dir, target.path),
      Buffer.concat([target.content as Buffer, Buffer.from('\n# one more line\n')]),
    );
    const diff = await timeAsync(() => diffWorkspace(prev, dir));
    const delta = encodeState({ ...state(diff.out.files), baseVersion: 1 });
    const restoreDir = mkdtempSync(join(tmpdir(), 'ss-bench-r-'));
    const restore = await timeAsync(() =>
      restoreWorkspace(restoreDir, decodeState(full).files, { clean: true }),
    );
    rmSync(restoreDir, { recursive: true, force: true });
    return [
      `| full snapshot (encodeState of captureWorkspace) | ${(full.length / 1024).toFixed(1)} KiB | capture ${capture.ms.toFixed(0)} ms |`,
      `| incremental after a one-file change (diffWorkspace → delta) | ${(delta.length / 1024).toFixed(1)} KiB (${diff.out.changedFiles} changed, ${diff.out.changedBytes} B content) | diff ${diff.ms.toFixed(0)} ms (stat fast path) |`,
      `| restoreWorkspace of the full state | | ${restore.ms.toFixed(0)} ms |`,
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const small = smallFiles(10 * MB, 2000);
  const large = largeFiles(40 * MB);
  console.log(
    `session-state bench (node ${process.version}, median of ${RUNS} runs; codec MB/s by CPU time, disk operations by wall time; load average ${(loadavg()[0] ?? 0).toFixed(1)})\n`,
  );
  console.log('| workspace | codec | size MB | encode MB/s | decode MB/s | speed vs gzip (enc / dec) |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of codecTable('2000 small files, 10 MB', small)) console.log(r);
  for (const r of codecTable('4 large files, 40 MB', large)) console.log(r);
  console.log('\n| 2000 small files, 10 MB | encoded size | time |');
  console.log('| --- | --- | --- |');
  for (const r of await incremental(small)) console.log(r);
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
