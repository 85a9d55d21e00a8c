// Invariant 4 (limits per session): a bomb in one session is contained, and a neighbour session on
// the same pod keeps answering (its print(1) latency is measured during the bomb).
import { readdirSync, readFileSync } from 'node:fs';
import type { Api, Session } from '../driver/api';
import type { AttackContext } from '../driver/context';
import { Breach, InvalidProbe, nonce, pythonProbe, parseProbe, show, type Attempt } from '../driver/probe';
import { attack, type Attack } from './types';

/** Neighbour p99 above this fails the attack (ms; the target on 2 idle cores is 50). */
export const NEIGHBOUR_P99_MS = Number(process.env['SECURITY_E2E_NEIGHBOUR_P99_MS'] ?? 250);
const INODE_CAP = Number(process.env['SECURITY_E2E_INODE_CAP'] ?? 300_000);
const BYTES_CAP = Number(process.env['SECURITY_E2E_BYTES_CAP'] ?? 3 * 1024 ** 3);
const MEMORY_CAP = Number(process.env['SECURITY_E2E_MEMORY_CAP'] ?? 4 * 1024 ** 3);

/** Neighbour latencies recorded per bomb (reported with the table). */
export const neighbourReport: Array<{
  bomb: string;
  n: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
}> = [];

function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

/** Runs `bomb` while the neighbour answers print(1) every 100 ms; returns the bomb's result. */
async function withNeighbour<T>(
  ctx: AttackContext,
  label: string,
  bombSession: Session,
  bomb: () => Promise<T>,
): Promise<{ result: T; summary: string; problem?: string }> {
  const neighbour = await ctx.samePod(bombSession, ctx.b);
  // warm the neighbour's kernel
  await ctx.b.execute(neighbour.id, 'print(1)');
  const lat: number[] = [];
  let errors = 0;
  let done = false;
  const loop = (async (): Promise<void> => {
    while (!done) {
      const t0 = performance.now();
      const r = await ctx.b
        .request<{ stdout: string }>(
          'POST',
          `/v1/sessions/${neighbour.id}/executions`,
          { code: 'print(1)' },
          { timeoutMs: 30_000 },
        )
        .catch(() => undefined);
      const ms = performance.now() - t0;
      if (!r || r.status !== 200 || r.body.stdout !== '1\n') errors++;
      else lat.push(ms);
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  let result: T;
  try {
    result = await bomb();
  } finally {
    done = true;
    await loop;
  }
  const row = {
    bomb: label,
    n: lat.length,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    max: Math.max(...lat),
    errors,
  };
  neighbourReport.push(row);
  const summary = `neighbour print(1): n=${row.n} p50=${row.p50.toFixed(0)}ms p99=${row.p99.toFixed(0)}ms max=${row.max.toFixed(0)}ms errors=${errors}`;
  let problem: string | undefined;
  if (errors) problem = `the neighbour stopped answering during the ${label}`;
  else if (lat.length < 5)
    throw new InvalidProbe(`too few neighbour samples during the ${label}: ${summary}`);
  else if (row.p99 > NEIGHBOUR_P99_MS)
    problem = `neighbour p99 ${row.p99.toFixed(0)} ms > ${NEIGHBOUR_P99_MS} ms during the ${label}`;
  return { result, summary, problem };
}

/** The bomb itself was contained: now the neighbour's numbers decide. */
function neighbourVerdict(problem: string | undefined, detail: string): string {
  if (problem) throw new Breach(`${problem} (bomb: ${detail})`);
  return detail;
}

/** Runs a python probe with a given timeout; a probe the platform cut short is reported, not thrown. */
async function bombProbe<R>(
  ctx: AttackContext,
  s: Session,
  body: string,
  params: unknown,
  timeoutMs: number,
  api: Api = ctx.a,
): Promise<{
  R?: R;
  exec: { exitCode: number; timedOut: boolean; stdout: string; stderr: string; durationMs: number };
}> {
  const n = nonce();
  const exec = await api.execute(s.id, pythonProbe(body, params, n), { timeoutMs });
  ctx.record(exec);
  if (!exec.stdout.includes(`SEC-E2E-START ${n}`))
    throw new InvalidProbe(`the bomb did not start: ${exec.stderr.slice(0, 500)}`);
  try {
    return { R: parseProbe<R>(exec, n), exec };
  } catch {
    return { exec };
  }
}

/** Afterwards the bomb's own session answers again (or the platform replaced its kernel). */
async function recovers(ctx: AttackContext, s: Session): Promise<string> {
  const r = await ctx.a.request<{ stdout: string }>(
    'POST',
    `/v1/sessions/${s.id}/executions`,
    { code: 'print(2)' },
    { timeoutMs: 60_000 },
  );
  return r.status === 200 && r.body.stdout === '2\n'
    ? 'bomb session usable again'
    : `bomb session answers HTTP ${r.status}`;
}

export const limitAttacks: Attack[] = [
  attack(
    4,
    'fork-bomb',
    async (ctx) => {
      const s = await ctx.session();
      const { result, summary, problem } = await withNeighbour(ctx, 'fork bomb', s, () =>
        bombProbe<{ forks: number; errnos: Record<string, number> }>(
          ctx,
          s,
          `import signal
log = "/tmp/forkbomb-" + P["n"]
deadline = time.time() + P["seconds"]
leader = os.fork()
if leader == 0:
    os.setpgid(0, 0)
    depth = 0
    while time.time() < deadline:
        if depth < 11:
            try:
                if os.fork() == 0:
                    depth += 1
                    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600); os.write(fd, b"F\\n"); os.close(fd)
                    continue
            except OSError as e:
                fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                os.write(fd, (_errno.errorcode.get(e.errno, str(e.errno)) + "\\n").encode()); os.close(fd)
        time.sleep(0.05)
    os._exit(0)
time.sleep(P["seconds"])
for _ in range(100):
    try:
        os.killpg(leader, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        break
    time.sleep(0.05)
try:
    os.waitpid(leader, 0)
except ChildProcessError:
    pass
lines = read(log, 1 << 24).split() if os.path.exists(log) else []
R["forks"] = lines.count("F")
R["errnos"] = {e: lines.count(e) for e in set(lines) if e != "F"}`,
          { n: nonce(), seconds: 8 },
          30_000,
        ),
      );
      const R = result.R;
      if (!R)
        throw new InvalidProbe(
          `the fork bomb's report is missing (exit ${result.exec.exitCode}, timedOut ${result.exec.timedOut})`,
        );
      if (!R.errnos['EAGAIN'] && R.forks >= 2000)
        throw new Breach(`no process limit: ${R.forks} forks succeeded, none refused; ${summary}`);
      if (!R.errnos['EAGAIN'])
        throw new InvalidProbe(`the bomb never hit a limit (${R.forks} forks, ${JSON.stringify(R.errnos)})`);
      return neighbourVerdict(
        problem,
        `${R.forks} forks then EAGAIN ×${R.errnos['EAGAIN']}; ${summary}; ${await recovers(ctx, s)}`,
      );
    },
    { timeoutMs: 240_000 },
  ),

  attack(
    4,
    'memory-bomb',
    async (ctx) => {
      const s = await ctx.session();
      const { result, summary, problem } = await withNeighbour(ctx, 'memory bomb', s, () =>
        bombProbe<{ rc: number; reached: number; tail: string; rounds: number }>(
          ctx,
          s,
          `import subprocess
child = '''
import os, sys
try:
    open("/proc/self/oom_score_adj", "w").write("1000")
except OSError:
    pass
chunks, cap = [], int(sys.argv[1])
while len(chunks) * (64 << 20) < cap:
    chunks.append(b"\\\\x01" * (64 << 20))
    sys.stdout.write("%d\\\\n" % (len(chunks) * 64)); sys.stdout.flush()
print("CAP-REACHED")
'''
# again and again for at least P["seconds"] (the neighbour is measured meanwhile)
deadline = time.time() + P["seconds"]
R["rc"], R["reached"], R["tail"], R["rounds"] = None, 0, "", 0
while True:
    p = subprocess.run([sys.executable, "-c", child, str(P["cap"])], capture_output=True, text=True, timeout=120)
    lines = p.stdout.split()
    reached = int([l for l in lines if l.isdigit()][-1]) if any(l.isdigit() for l in lines) else 0
    R["rounds"] += 1
    if reached >= R["reached"]:
        R["rc"], R["reached"], R["tail"] = p.returncode, reached, (p.stdout[-40:] + " | " + p.stderr[-200:])
    if "CAP-REACHED" in p.stdout or time.time() > deadline:
        break`,
          { cap: MEMORY_CAP, seconds: 8 },
          150_000,
        ),
      );
      const R = result.R;
      if (!R) {
        // the kernel itself was killed: contained if the session recovers
        return neighbourVerdict(
          problem,
          `the memory cgroup killed the session's kernel (exit ${result.exec.exitCode}); ${summary}; ${await recovers(ctx, s)}`,
        );
      }
      if (R.tail.includes('CAP-REACHED'))
        throw new Breach(`no memory limit: allocated ${R.reached} MiB (the bomb's own cap); ${summary}`);
      if (R.reached === 0) throw new InvalidProbe(`the bomb allocated nothing: ${R.tail}`);
      return neighbourVerdict(
        problem,
        `stopped at ${R.reached} MiB (exit ${R.rc}${/MemoryError/.test(R.tail) ? ', MemoryError' : ''}, ${R.rounds} rounds); ${summary}; ${await recovers(ctx, s)}`,
      );
    },
    { timeoutMs: 300_000 },
  ),

  attack(
    4,
    'disk-filler-bytes',
    async (ctx) => {
      const s = await ctx.session();
      const { result, summary, problem } = await withNeighbour(ctx, 'disk filler', s, () =>
        bombProbe<{ bytes: number; stop: Attempt }>(
          ctx,
          s,
          `os.makedirs("fill", exist_ok=True)
chunk = b"\\x02" * (8 << 20)
total, i = 0, 0
deadline = time.time() + 60
def fill():
    global total, i
    while total < P["cap"] and time.time() < deadline:
        with open("fill/f%d" % i, "wb") as f:
            for _ in range(8):
                f.write(chunk)
                f.flush()
                total += len(chunk)
        i += 1
    return "cap"
R["stop"] = attempt(fill)
R["bytes"] = total
# hold the full workspace for the rest of the time (the neighbour is measured meanwhile)
hold = time.time() + P["hold"]
while time.time() < hold:
    attempt(lambda: open("fill/hold", "ab").write(chunk))
    time.sleep(0.05)
import shutil
shutil.rmtree("fill", ignore_errors=True)`,
          { cap: BYTES_CAP, hold: 8 },
          120_000,
        ),
      );
      const R = result.R;
      if (!R) throw new InvalidProbe(`the filler's report is missing (exit ${result.exec.exitCode})`);
      if (R.stop.ok)
        throw new Breach(
          `no workspace size limit: wrote ${(R.bytes / 2 ** 20).toFixed(0)} MiB (${String(R.stop.value)}); ${summary}`,
        );
      if (!['ENOSPC', 'EDQUOT', 'EFBIG'].includes(R.stop.errno ?? ''))
        throw new InvalidProbe(`the filler stopped for another reason: ${show(R.stop)}`);
      return neighbourVerdict(
        problem,
        `stopped at ${(R.bytes / 2 ** 20).toFixed(0)} MiB with ${R.stop.errno}; ${summary}`,
      );
    },
    { timeoutMs: 300_000 },
  ),

  attack(
    4,
    'disk-filler-inodes',
    async (ctx) => {
      const s = await ctx.session();
      const { result, summary, problem } = await withNeighbour(ctx, 'inode filler', s, () =>
        bombProbe<{ files: number; stop: Attempt }>(
          ctx,
          s,
          `os.makedirs("inodes", exist_ok=True)
count = 0
deadline = time.time() + 90
def fill():
    global count
    while count < P["cap"] and time.time() < deadline:
        d = "inodes/%d" % (count // 10000)
        if count % 10000 == 0:
            os.makedirs(d, exist_ok=True)
        os.close(os.open("%s/%d" % (d, count), os.O_CREAT | os.O_WRONLY, 0o600))
        count += 1
    return "cap" if count >= P["cap"] else "time"
R["stop"] = attempt(fill)
R["files"] = count
hold = time.time() + P["hold"]
while time.time() < hold:
    attempt(lambda: os.close(os.open("inodes/hold-%f" % time.time(), os.O_CREAT | os.O_WRONLY, 0o600)))
    time.sleep(0.05)
import shutil
shutil.rmtree("inodes", ignore_errors=True)`,
          { cap: INODE_CAP, hold: 8 },
          170_000,
        ),
      );
      const R = result.R;
      if (!R) throw new InvalidProbe(`the filler's report is missing (exit ${result.exec.exitCode})`);
      if (R.stop.ok)
        throw new Breach(
          `no file-count limit: created ${R.files} files (${String(R.stop.value)}); ${summary}`,
        );
      if (!['ENOSPC', 'EDQUOT'].includes(R.stop.errno ?? ''))
        throw new InvalidProbe(`the filler stopped for another reason: ${show(R.stop)}`);
      return neighbourVerdict(problem, `stopped at ${R.files} files with ${R.stop.errno}; ${summary}`);
    },
    { timeoutMs: 360_000 },
  ),

  attack(
    4,
    'cpu-spinner',
    async (ctx) => {
      const s = await ctx.session();
      const { result, summary, problem } = await withNeighbour(ctx, 'cpu spinner', s, () =>
        bombProbe<{ spun: number }>(
          ctx,
          s,
          `import multiprocessing, subprocess
spin = "import time\\nend = time.time() + %d\\nwhile time.time() < end: pass" % P["seconds"]
procs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(P["procs"])]
for p in procs:
    p.wait()
R["spun"] = len(procs)`,
          { seconds: 8, procs: 4 },
          60_000,
        ),
      );
      if (!result.R) throw new InvalidProbe(`the spinner's report is missing (exit ${result.exec.exitCode})`);
      return neighbourVerdict(problem, `${result.R.spun} spinning processes for 8 s; ${summary}`);
    },
    { timeoutMs: 180_000 },
  ),

  attack(4, 'output-flood', async (ctx) => {
    const s = await ctx.session();
    const n = nonce();
    const t0 = Date.now();
    const exec = await ctx.a.execute(
      s.id,
      `print("FLOOD-${n}", flush=True)\nimport sys, os, subprocess\nfor _ in range(16):\n    sys.stdout.write("x" * (1 << 20))\nsys.stdout.flush()\nsubprocess.run(["/bin/sh", "-c", "head -c 16000000 /dev/zero | tr '\\\\0' y"])\nfor _ in range(8):\n    sys.stderr.write("e" * (1 << 20))\nprint("FLOOD-END")`,
      { timeoutMs: 60_000 },
    );
    const ms = Date.now() - t0;
    if (!exec.stdout.startsWith(`FLOOD-${n}`)) throw new InvalidProbe('the flood did not start');
    const bad: string[] = [];
    if (Buffer.byteLength(exec.stdout) > 1.05 * 2 ** 20)
      bad.push(`stdout ${Buffer.byteLength(exec.stdout)} bytes`);
    if (Buffer.byteLength(exec.stderr) > 1.05 * 2 ** 20)
      bad.push(`stderr ${Buffer.byteLength(exec.stderr)} bytes`);
    if (!exec.truncated) bad.push('truncated is false');
    if (bad.length) throw new Breach(`output not capped: ${bad.join(', ')}`);
    return `stdout ${Buffer.byteLength(exec.stdout)} B, stderr ${Buffer.byteLength(exec.stderr)} B, truncated, ${ms} ms; ${await recovers(ctx, s)}`;
  }),

  attack(4, 'wall-time', async (ctx) => {
    const s = await ctx.session();
    const n = nonce();
    const out: string[] = [];
    for (const [label, code] of [
      ['sleep loop', `print("WALL-${n}", flush=True)\nimport time\nwhile True:\n    time.sleep(0.1)`],
      ['busy loop', `print("WALL-${n}", flush=True)\nwhile True:\n    pass`],
      [
        'blocked child',
        `print("WALL-${n}", flush=True)\nimport subprocess\nsubprocess.run(["sleep", "600"])`,
      ],
    ] as const) {
      const t0 = Date.now();
      const exec = await ctx.a.execute(s.id, code, { timeoutMs: 2000 });
      const ms = Date.now() - t0;
      if (!exec.stdout.includes(`WALL-${n}`)) throw new InvalidProbe(`${label}: did not start`);
      if (!exec.timedOut) throw new Breach(`${label}: not timed out (exit ${exec.exitCode})`);
      if (ms > 2000 + 10_000) throw new Breach(`${label}: timed out only after ${ms} ms`);
      out.push(`${label} cut at ${ms} ms`);
    }
    return `${out.join(', ')}; ${await recovers(ctx, s)}`;
  }),

  attack(
    4,
    'process-outlives-session',
    async (ctx) => {
      const s = await ctx.session();
      const n = nonce();
      const marker = `9${parseInt(n.slice(0, 6), 16)}`;
      const { R } = await ctx.py<{ pid: Attempt }>(
        s,
        `import subprocess
R["pid"] = attempt(lambda: subprocess.Popen(["/bin/sh", "-c", "(setsid sleep %s &) ; sleep %s" % (P["m"], P["m"])],
    start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid)`,
        { m: marker },
      );
      if (!R.pid.ok) throw new InvalidProbe(`could not start the daemon: ${show(R.pid)}`);
      const find = (): number[] =>
        readdirSync('/proc')
          .filter((p) => /^\d+$/.test(p))
          .filter((p) => {
            try {
              return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(marker);
            } catch {
              return false;
            }
          })
          .map(Number);
      if (!find().length) throw new InvalidProbe('control: the test does not see the daemon on the host');
      await ctx.drop(ctx.a, s.id);
      const t0 = Date.now();
      let left = find();
      while (left.length && Date.now() - t0 < 15_000) {
        await new Promise((r) => setTimeout(r, 250));
        left = find();
      }
      if (left.length) {
        for (const pid of left) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
        throw new Breach(`${left.length} processes of a deleted session still run 15 s later`);
      }
      return `all processes gone ${Date.now() - t0} ms after DELETE`;
    },
    { local: true },
  ),
];
