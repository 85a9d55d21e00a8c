import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { PodDriver, startHarness, type Harness } from '../test/harness';
import { NONROOT_UID, startBundlePod } from '../test/attacks/bundle-executor';

/**
 * Neighbour latency during bombs: one session runs a sustained bomb (fork, memory, disk bytes, disk inodes,
 * CPU spinner) while a neighbour session on the same pod runs `print(1)` back to back; the table gives
 * the neighbour's round trip (JobRpcClient → BullMQ → kernel → reply) p50/p99/max. Default limits of the
 * executor (MEMORY_LIMIT_MB 512, MAX_PROCESSES 128, WORKSPACE_MAX_BYTES 256 MiB, WORKSPACE_MAX_FILES 32768,
 * CPU_SHARES 1024, no CPU_LIMIT). Run: `npx nx run executor:bench` (quiet machine).
 */
const SECONDS = Number(process.env['BOMB_SECONDS'] ?? 8);

const BOMBS: Record<string, string> = {
  'none (baseline)': `import time\ntime.sleep(${SECONDS})`,
  'fork bomb': [
    'import os, time',
    `me = os.getpid(); end = time.time() + ${SECONDS}`,
    'while time.time() < end:',
    '    try:',
    '        os.fork()',
    '    except OSError:',
    '        pass',
    'if os.getpid() != me: os._exit(0)',
  ].join('\n'),
  'memory bomb (OOM kill loop)': [
    'import os, time',
    `end = time.time() + ${SECONDS}; kills = 0`,
    'while time.time() < end:',
    '    pid = os.fork()',
    '    if pid == 0:',
    '        b = []',
    '        while True: b.append(bytearray(16 << 20))',
    '    _, st = os.waitpid(pid, 0); kills += os.WIFSIGNALED(st)',
    'print("oom kills", kills)',
  ].join('\n'),
  'disk filler (bytes, at quota)': [
    'import os, time',
    `end = time.time() + ${SECONDS}; i = 0`,
    'while time.time() < end:',
    '    i += 1',
    '    try:',
    '        with open(f"f{i % 64}", "wb") as f:',
    '            for _ in range(8): f.write(b"x" * (1 << 20))',
    '    except OSError:',
    '        os.unlink(f"f{(i + 1) % 64}") if os.path.exists(f"f{(i + 1) % 64}") else None',
  ].join('\n'),
  'disk filler (inodes, at quota)': [
    'import os, time',
    `end = time.time() + ${SECONDS}; n = 0; full = 0`,
    'os.makedirs("many", exist_ok=True)',
    'while time.time() < end:',
    '    try:',
    '        open(f"many/{n}", "w").close(); n += 1',
    '    except OSError:',
    '        full += 1; os.unlink(f"many/{n - 1 - full % 100}") if os.path.exists(f"many/{n - 1 - full % 100}") else None',
    'print("files", n)',
  ].join('\n'),
  'CPU spinner (32 processes)': [
    'import os, time',
    `end = time.time() + ${SECONDS}; kids = []`,
    'for _ in range(32):',
    '    pid = os.fork()',
    '    if pid == 0:',
    '        while time.time() < end: pass',
    '        os._exit(0)',
    '    kids.append(pid)',
    'for k in kids: os.waitpid(k, 0)',
  ].join('\n'),
};

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};

async function measure(pod: PodDriver, lines: string[]): Promise<void> {
  for (const [name, code] of Object.entries(BOMBS)) {
    const neighbour = (await pod.open()).id;
    const bomb = (await pod.open()).id;
    for (let i = 0; i < 20; i++) await pod.exec(neighbour, 'print(1)');
    let done = false;
    const started = performance.now();
    const bombP = pod.exec(bomb, code, (SECONDS + 20) * 1000).finally(() => (done = true));
    const lat: number[] = [];
    while (!done) {
      const t0 = performance.now();
      const r = await pod.exec(neighbour, 'print(1)', 10_000);
      lat.push(performance.now() - t0);
      if (r.stdout !== '1\n') throw new Error(`neighbour answered ${JSON.stringify(r)}`);
    }
    const b = await bombP;
    const wall = (performance.now() - started) / 1000;
    lines.push(
      `| ${name} | ${lat.length} | ${pct(lat, 50).toFixed(1)} | ${pct(lat, 99).toFixed(1)} | ${Math.max(...lat).toFixed(1)} | ${wall.toFixed(1)} s, exit ${b.exitCode}${b.stdout.trim() ? `, ${b.stdout.trim().split('\n').pop()}` : ''} |`,
    );
    await pod.close(bomb);
    await pod.close(neighbour);
  }
}

describe('neighbour print(1) latency during bombs', () => {
  let h: Harness;
  const out: string[] = [];
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    console.log(`\n===== neighbour latency during bombs =====\n${out.join('\n')}\n`);
    await h?.stop();
  });

  const header = (what: string): string[] => [
    '',
    `${what}; load average at start ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}; bomb ${SECONDS} s`,
    '| bomb | samples | p50 ms | p99 ms | max ms | bomb |',
    '| --- | --- | --- | --- | --- | --- |',
  ];

  it('root executor (in-process, the npm start default)', async () => {
    const pod = await PodDriver.start(h, 'python', {
      SANDBOX: 'bwrap',
      WARM_KERNELS: '2',
      MAX_SESSIONS: '8',
    });
    try {
      out.push(...header('root executor'));
      await measure(pod, out);
    } finally {
      await pod.stop();
    }
  }, 600_000);

  it('non-root executor (bundle as an unprivileged uid, delegated cgroup)', async () => {
    const pod = await startBundlePod(
      h,
      'python',
      { SANDBOX: 'bwrap', WARM_KERNELS: '2', MAX_SESSIONS: '8' },
      { uid: NONROOT_UID, volumeBytes: 256 * 1024 * 1024 },
    );
    try {
      out.push(...header('non-root executor (WORKSPACE_ROOT: a 256 MiB volume shared by all sessions)'));
      await measure(pod, out);
    } finally {
      await pod.stop();
    }
  }, 600_000);
});
