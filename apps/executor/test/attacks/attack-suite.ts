import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { ExecuteResult } from '@executor/queues';
import type { Harness, PodDriver } from '../harness';

/** The checkout (the executor's own files): session code must not read them. */
const REPO_ROOT = join(__dirname, '../../../..');
const SYSCALL_PROBE = readFileSync(join(__dirname, 'syscalls.py'), 'utf8');

/** Limits of the pods under attack (small, so that the bombs hit them quickly). */
export const ATTACK_LIMITS = {
  MEMORY_LIMIT_MB: '256',
  MAX_PROCESSES: '64',
  WORKSPACE_MAX_BYTES: String(64 * 1024 * 1024),
  WORKSPACE_MAX_FILES: '2000',
  MAX_SESSIONS: '16',
  WARM_KERNELS: '1',
  MAX_FILE_BYTES: String(48 * 1024 * 1024),
};

/** The volume of WORKSPACE_ROOT given to the non-root executor (smaller than MEMORY_LIMIT_MB: see README). */
export const NONROOT_VOLUME = { bytes: 128 * 1024 * 1024, inodes: 20_000 };

export interface AttackTarget {
  /** e.g. `root executor (npm start default)` */
  name: string;
  /** True when the executor runs as an unprivileged uid (sessions share it outside their user namespace). */
  nonRoot: boolean;
  harness(): Promise<Harness>;
  /** Starts a pod of `template` with ATTACK_LIMITS (and `env` for the executor process). */
  start(h: Harness, template: string, env: Record<string, string>): Promise<PodDriver & { pid?: number }>;
}

interface Probe {
  ran: boolean;
  [k: string]: unknown;
}

/** Runs python probe code whose last stdout line is a JSON object with `ran: true` (proof that it ran). */
async function probe(pod: PodDriver, id: string, code: string, timeoutMs = 20_000): Promise<Probe> {
  const r = await pod.exec(id, code, timeoutMs);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let parsed: Probe | undefined;
  try {
    parsed = JSON.parse(last) as Probe;
  } catch {
    parsed = undefined;
  }
  if (!parsed?.ran)
    throw new Error(
      `the probe did not run to its end (exit ${r.exitCode}):\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-2000)}`,
    );
  return parsed;
}

const py = (lines: string[]): string => lines.join('\n');

/** `try_(expr)` in probes: "ok: <value>" or "<ExceptionName>: <errno name>". */
const TRY = py([
  'import errno, json, os, socket, sys, time',
  'def try_(fn):',
  '    try:',
  '        v = fn()',
  '        return "ok: " + (v.decode(errors="replace")[:200] if isinstance(v, bytes) else str(v)[:200])',
  '    except OSError as e:',
  '        return type(e).__name__ + ": " + (errno.errorcode.get(e.errno, str(e.errno)) if e.errno else str(e))',
  '    except Exception as e:',
  '        return type(e).__name__ + ": " + str(e)[:200]',
  'def read(p):',
  '    with open(p, "rb") as f:',
  '        return f.read(4096)',
]);

const SECRET = `attack-secret-${process.pid}-${Math.random().toString(36).slice(2)}`;

/** The adversarial suite of one executor configuration: every attack must first prove it ran. */
export function defineAttackSuite(target: AttackTarget): void {
  describe(`attacks on the ${target.name}`, () => {
    let h: Harness;
    let pod: PodDriver & { pid?: number };
    let server: Server;
    let abstract: Server;
    let port: number;
    const sockets = new Set<Socket>();
    const hostTmpFile = `/tmp/host-only-${process.pid}.txt`;
    const abstractName = `executor-attack-${process.pid}`;
    const opened: string[] = [];
    /** Opens a session that is closed after the test (the pod holds MAX_SESSIONS at most). */
    const open = async (opts: { network?: boolean } = {}): Promise<{ id: string }> => {
      const r = await pod.open(opts);
      opened.push(r.id);
      return r;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((id) => pod.close(id).catch(() => undefined)));
    });

    beforeAll(async () => {
      writeFileSync(hostTmpFile, SECRET);
      h = await target.harness();
      pod = await target.start(h, 'python', { EXECUTOR_FAKE_SECRET: SECRET });
      server = createServer((s) => {
        sockets.add(s);
        s.end('hello from the host\n');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      port = (server.address() as { port: number }).port;
      abstract = createServer((s) => {
        sockets.add(s);
        s.end('abstract\n');
      });
      await new Promise<void>((r) => abstract.listen(`\0${abstractName}`, () => r()));
    }, 120_000);
    afterAll(async () => {
      rmSync(hostTmpFile, { force: true });
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      await new Promise<void>((r) => (abstract ? abstract.close(() => r()) : r()));
      await pod?.stop();
      await h?.stop();
    }, 120_000);

    describe('files', () => {
      it('sees a reduced /etc: generated passwd/group/hosts, no shadow, ssh, machine-id or ssl keys', async () => {
        const { id } = await open();
        const p = await probe(
          pod,
          id,
          py([
            TRY,
            'etc = sorted(os.listdir("/etc"))',
            'print(json.dumps({"ran": True, "etc": etc, "passwd": read("/etc/passwd").decode(), "hostname": read("/etc/hostname").decode().strip(),',
            '  "shadow": try_(lambda: read("/etc/shadow")), "ssl": sorted(os.listdir("/etc/ssl")), "whoami": __import__("getpass").getuser()}))',
          ]),
        );
        const etc = p['etc'] as string[];
        for (const bad of [
          'shadow',
          'gshadow',
          'sudoers',
          'ssh',
          'machine-id',
          'subuid',
          'security',
          'pam.d',
        ])
          expect(etc).not.toContain(bad);
        expect(p['ssl']).not.toContain('private');
        expect(p['shadow']).toBe('FileNotFoundError: ENOENT');
        expect(p['passwd']).toContain('user:x:1000:1000:user:/home/user:/bin/bash');
        const hostUsers = readFileSync('/etc/passwd', 'utf8')
          .split('\n')
          .map((l) => l.split(':')[0])
          .filter((u) => u && !['root', 'nobody'].includes(u as string));
        for (const u of hostUsers) expect(p['passwd']).not.toMatch(new RegExp(`^${u}:`, 'm'));
        expect(p['hostname']).toBe('sandbox');
        expect(p['whoami']).toBe('user');
      });

      it("cannot read the checkout, the executor's files or a file of the host's /tmp", async () => {
        const { id } = await open();
        const p = await probe(
          pod,
          id,
          py([
            TRY,
            `paths = [${JSON.stringify(join(REPO_ROOT, 'package.json'))}, ${JSON.stringify(__filename)}, ${JSON.stringify(hostTmpFile)}, "/tmp/${hostTmpFile.split('/').pop()}", "/root/.bashrc", "/proc/1/root/etc/shadow"]`,
            'res = {p: try_(lambda p=p: read(p)) for p in paths}',
            'print(json.dumps({"ran": True, "res": res, "tmp": os.listdir("/tmp")}))',
          ]),
        );
        for (const [path, r] of Object.entries(p['res'] as Record<string, string>)) {
          expect(`${path}: ${r}`).toMatch(/: (FileNotFoundError|PermissionError)/);
          expect(r).not.toContain(SECRET);
        }
        expect(p['tmp']).toEqual([]);
      });

      it('sees only its own processes: no host /proc/<pid>, /proc/1 is the sandbox, no executor env', async () => {
        const { id } = await open();
        const pids = [process.pid, ...(pod.pid ? [pod.pid] : [])];
        const p = await probe(
          pod,
          id,
          py([
            TRY,
            `host = {str(p): [try_(lambda p=p: read(f"/proc/{p}/environ")), try_(lambda p=p: read(f"/proc/{p}/cmdline"))] for p in ${JSON.stringify(pids)}}`,
            'mine = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())',
            'env1 = try_(lambda: read("/proc/1/environ"))',
            'print(json.dumps({"ran": True, "host": host, "procs": mine, "env": dict(os.environ), "env1": env1,',
            '  "init": try_(lambda: read("/proc/1/cmdline").split(b"\\0")[0]), "uid": os.getuid(), "ppid": os.getppid()}))',
          ]),
        );
        for (const [pid, rs] of Object.entries(p['host'] as Record<string, string[]>)) {
          for (const r of rs) expect(`${pid}: ${r}`).toMatch(/(FileNotFoundError|PermissionError)/);
        }
        expect((p['procs'] as number[]).length).toBeLessThan(10);
        expect(p['init']).toMatch(/^ok: (\/usr\/bin\/)?bwrap$/);
        const env = p['env'] as Record<string, string>;
        expect(env['EXECUTOR_FAKE_SECRET']).toBeUndefined();
        expect(
          Object.keys(env).filter((k) => /REDIS|QUEUE|POD_NAME|EXECUTOR_CG|NODE_OPTIONS|JEST/.test(k)),
        ).toEqual([]);
        expect(JSON.stringify(p)).not.toContain(SECRET);
        expect(JSON.stringify(p)).not.toContain(h.redis.url);
        expect(env['HOME']).toBe('/home/user');
        expect(p['uid']).toBe(1000);
      });

      it("cannot reach another session's workspace, in any path", async () => {
        const a = (await open()).id;
        const b = (await open()).id;
        const marker = `only-a-${Math.random().toString(36).slice(2)}`;
        await probe(
          pod,
          a,
          `open("private.txt", "w").write("${marker}")\nimport json\nprint(json.dumps({"ran": True}))`,
        );
        const p = await probe(
          pod,
          b,
          py([
            TRY,
            'hits = []',
            'for top in ["/home", "/tmp", "/opt", "/proc", "/dev", "/var", "/mnt", "/srv", "/run"]:',
            '    for root, dirs, files in os.walk(top, onerror=lambda e: None):',
            '        if root.startswith("/proc/") and root.count("/") > 3: dirs[:] = []',
            '        if "private.txt" in files: hits.append(os.path.join(root, "private.txt"))',
            `print(json.dumps({"ran": True, "hits": hits, "ws": try_(lambda: os.path.exists(${JSON.stringify(pod.cfg.WORKSPACE_ROOT)})), "home": os.listdir("/home")}))`,
          ]),
        );
        expect(p['hits']).toEqual([]);
        expect(p['ws']).toBe('ok: False');
        expect(p['home']).toEqual(['user']);
        expect(JSON.stringify(p)).not.toContain(marker);
      });

      it('writes only its workspace, /tmp and /dev/shm (system directories, /dev and / are read-only)', async () => {
        const { id } = await open();
        const p = await probe(
          pod,
          id,
          py([
            TRY,
            'res = {d: try_(lambda d=d: open(os.path.join(d, "x"), "w").close()) for d in ["/usr", "/etc", "/", "/dev", "/opt/executor/kernels", "/proc", "/home", "/home/user", "/tmp", "/dev/shm"]}',
            'print(json.dumps({"ran": True, "res": res}))',
          ]),
        );
        const res = p['res'] as Record<string, string>;
        for (const d of ['/usr', '/etc', '/', '/dev', '/opt/executor/kernels', '/proc', '/home'])
          expect(`${d}: ${res[d]}`).toMatch(
            /(OSError|PermissionError|FileNotFoundError): (EROFS|EACCES|ENOENT|EPERM)/,
          );
        for (const d of ['/home/user', '/tmp', '/dev/shm']) expect(`${d}: ${res[d]}`).toBe(`${d}: ok: None`);
      });

      it('cannot hard-link host files into its workspace, and symlinks out lead nowhere (inside and through the file API)', async () => {
        const { id } = await open();
        const p = await probe(
          pod,
          id,
          py([
            TRY,
            'res = {s: try_(lambda s=s: os.link(s, "/home/user/l-" + os.path.basename(s))) for s in ["/usr/bin/python3", "/etc/passwd", "/opt/executor/kernels/python_kernel.py"]}',
            `os.symlink(${JSON.stringify(hostTmpFile)}, "/home/user/out-tmp")`,
            'os.symlink("/etc/shadow", "/home/user/out-shadow")',
            `os.symlink(${JSON.stringify(join(REPO_ROOT, 'package.json'))}, "/home/user/out-repo")`,
            'res["read out-tmp"] = try_(lambda: read("/home/user/out-tmp"))',
            'res["read out-shadow"] = try_(lambda: read("/home/user/out-shadow"))',
            'print(json.dumps({"ran": True, "res": res}))',
          ]),
        );
        const res = p['res'] as Record<string, string>;
        for (const [k, v] of Object.entries(res))
          expect(`${k}: ${v}`).toMatch(/: \w*Error: (EXDEV|EPERM|ENOENT|EACCES)/);
        for (const link of ['out-tmp', 'out-shadow', 'out-repo']) {
          const got = await pod.get(id, link).then(
            (b) => `read ${b.length} bytes: ${b.toString().slice(0, 40)}`,
            (e: Error) => `refused: ${e.message}`,
          );
          expect(`${link}: ${got}`).toMatch(/refused/);
        }
      });

      it('has no /sys (no cgroupfs to escape its cgroup) and cannot write /proc/sys or /proc/sysrq-trigger', async () => {
        const { id } = await open();
        const p = await probe(
          pod,
          id,
          py([
            TRY,
            'res = {"sys": try_(lambda: os.listdir("/sys")), "cgroup": try_(lambda: os.listdir("/sys/fs/cgroup")),',
            '  "sysctl": try_(lambda: open("/proc/sys/kernel/hostname", "w").write("x")),',
            '  "sysrq": try_(lambda: open("/proc/sysrq-trigger", "w").write("h")),',
            '  "kcore": try_(lambda: read("/proc/kcore")), "kmsg": try_(lambda: read("/proc/kmsg"))}',
            'print(json.dumps({"ran": True, "res": res}))',
          ]),
        );
        for (const [k, v] of Object.entries(p['res'] as Record<string, string>))
          expect(`${k}: ${v}`).toMatch(/: \w*Error: (ENOENT|EACCES|EPERM|EROFS)/);
      });

      it('has a minimal /dev without disks, memory or kernel log, and cannot create device nodes', async () => {
        const { id } = await open();
        const p = await probe(
          pod,
          id,
          py([
            TRY,
            'print(json.dumps({"ran": True, "dev": sorted(os.listdir("/dev")),',
            '  "mknod": try_(lambda: os.mknod("/tmp/sda", 0o600 | 0o060000, os.makedev(8, 0))),',
            '  "tty": try_(lambda: open("/dev/tty", "rb"))}))',
          ]),
        );
        const allowed = [
          'core',
          'fd',
          'full',
          'null',
          'ptmx',
          'pts',
          'random',
          'shm',
          'stderr',
          'stdin',
          'stdout',
          'tty',
          'urandom',
          'zero',
        ];
        expect((p['dev'] as string[]).filter((d) => !allowed.includes(d))).toEqual([]);
        expect(p['mknod']).toMatch(/PermissionError: EPERM/);
        expect(p['tty']).toMatch(/OSError: ENXIO/); // no controlling terminal (--new-session)
      });

      it('has no capabilities, no_new_privs, seccomp on, and setuid binaries give nothing', async () => {
        const { id } = await open();
        const p = await probe(
          pod,
          id,
          py([
            TRY,
            'import subprocess, stat',
            'st = dict(l.split(":\\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\\t" in l)',
            'suid = [p for d in ["/usr/bin", "/usr/sbin", "/usr/lib/openssh", "/usr/lib/dbus-1.0"] if os.path.isdir(d) for p in (os.path.join(d, n) for n in os.listdir(d)) if os.path.isfile(p) and os.stat(p).st_mode & stat.S_ISUID]',
            'runs = {}',
            'for argv in [["/usr/bin/mount", "-t", "tmpfs", "none", "/tmp"], ["/usr/bin/su", "-c", "id -u", "root"], ["/usr/bin/newgrp", "root"]]:',
            '    if os.path.exists(argv[0]):',
            '        r = subprocess.run(argv, capture_output=True, stdin=subprocess.DEVNULL, timeout=10)',
            '        runs[argv[0]] = [r.returncode, (r.stdout + r.stderr).decode(errors="replace")[-200:]]',
            'mounts = [l for l in open("/proc/self/mountinfo").read().splitlines() if " /home/user " in l or " /tmp " in l]',
            'print(json.dumps({"ran": True, "status": {k: st[k].strip() for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Uid", "Gid", "Groups"]},',
            '  "suid": suid, "runs": runs, "mounts": mounts}))',
          ]),
        );
        const st = p['status'] as Record<string, string>;
        for (const k of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'])
          expect(`${k} ${st[k]}`).toBe(`${k} 0000000000000000`);
        expect(st['NoNewPrivs']).toBe('1');
        expect(st['Seccomp']).toBe('2');
        expect(st['Uid']).toMatch(/^1000\s+1000\s+1000\s+1000$/);
        expect(st['Groups']).toBe(''); // no supplementary groups
        const runs = p['runs'] as Record<string, [number, string]>;
        expect(Object.keys(runs).length).toBeGreaterThan(0); // a setuid binary really ran
        for (const [bin, [code]] of Object.entries(runs)) expect(`${bin}: ${code}`).not.toBe(`${bin}: 0`);
        for (const m of p['mounts'] as string[]) expect(m).toMatch(/nosuid/);
      });
    });

    describe('network', () => {
      const connect = (host: string, port: number | string): string =>
        py([
          TRY,
          'def conn():',
          `    s = socket.create_connection((${JSON.stringify(host)}, ${port}), timeout=2)`,
          '    return s.recv(100)',
          'print(json.dumps({"ran": True, "r": try_(conn)}))',
        ]);

      it('cannot connect to a TCP server on the host loopback', async () => {
        const { id } = await open();
        expect((await probe(pod, id, connect('127.0.0.1', port)))['r']).toMatch(
          /ConnectionRefusedError|OSError/,
        );
      });

      it("cannot reach the platform's Redis (the executor's REDIS_URL)", async () => {
        const { id } = await open();
        const u = new URL(h.redis.url);
        expect((await probe(pod, id, connect(u.hostname, Number(u.port))))['r']).toMatch(
          /ConnectionRefusedError|OSError/,
        );
      });

      it("cannot connect to the host's abstract unix sockets", async () => {
        const { id } = await open();
        const p = await probe(
          pod,
          id,
          py([
            TRY,
            'def conn():',
            '    s = socket.socket(socket.AF_UNIX)',
            `    s.connect("\\0${abstractName}")`,
            '    return s.recv(100)',
            'print(json.dumps({"ran": True, "r": try_(conn)}))',
          ]),
        );
        expect(p['r']).toMatch(/ConnectionRefusedError|FileNotFoundError/);
      });

      it('has only a loopback interface and no DNS', async () => {
        const { id } = await open();
        const p = await probe(
          pod,
          id,
          py([
            TRY,
            'print(json.dumps({"ran": True, "ifs": [n for _, n in socket.if_nameindex()], "dns": try_(lambda: socket.getaddrinfo("example.com", 443))}))',
          ]),
        );
        expect(p['ifs']).toEqual(['lo']);
        expect(p['dns']).toMatch(/gaierror/);
      });

      it('a session opened with network: true reaches the host server (the probe works)', async () => {
        const { id } = await open({ network: true });
        expect((await probe(pod, id, connect('127.0.0.1', port)))['r']).toContain('hello from the host');
      });
    });

    describe('kernel surface (seccomp, namespaces)', () => {
      let results: Record<string, [number | string, number]>;
      let seccomp: string;
      beforeAll(async () => {
        const { id } = await open();
        const p = await probe(pod, id, SYSCALL_PROBE, 30_000);
        results = p['results'] as typeof results;
        seccomp = p['seccomp'] as string;
      }, 60_000);

      it('runs session code under a seccomp filter', () => {
        expect(seccomp).toBe('2');
      });

      const SYSCALLS = Object.keys(
        JSON.parse(readFileSync(join(__dirname, 'syscalls-expected.json'), 'utf8')) as Record<string, string>,
      );
      it.each(SYSCALLS)('%s is refused', (name) => {
        const expected = (
          JSON.parse(readFileSync(join(__dirname, 'syscalls-expected.json'), 'utf8')) as Record<
            string,
            string
          >
        )[name] as string;
        const r = results[name];
        expect(r).toBeDefined();
        const [ret, err] = r as [number | string, number];
        const got = ret === 'signal' ? `signal ${err}` : ret === -1 ? `errno ${err}` : `returned ${ret}`;
        // EPERM = 1, ENOSYS = 38; SIGSYS = 31 (the filter kills a process using another architecture's ABI)
        expect(`${name}: ${got}`).toMatch(new RegExp(`^${name.replace(/[()]/g, '\\$&')}: (${expected})$`));
      });

      it('cannot create user or network namespaces with unshare(1)', async () => {
        const { id } = await open();
        const p = await probe(
          pod,
          id,
          py([
            'import json, subprocess',
            'res = {}',
            'for args in [["-U"], ["-n"], ["-m"], ["-Ur"], ["-p", "-f"]]:',
            '    r = subprocess.run(["/usr/bin/unshare", *args, "/bin/true"], capture_output=True)',
            '    res[" ".join(args)] = [r.returncode, r.stderr.decode()[-200:]]',
            'print(json.dumps({"ran": True, "res": res}))',
          ]),
        );
        for (const [args, [code, err]] of Object.entries(p['res'] as Record<string, [number, string]>))
          expect(`unshare ${args}: ${code} ${err}`).toMatch(
            /unshare .*: [1-9]\d* unshare: unshare failed: (Operation not permitted|No space left on device)/,
          );
      });

      it('cannot signal processes outside its own sandbox (kill(-1) only reaches itself)', async () => {
        const victim = (await open()).id;
        const { id } = await open();
        const r = await pod.exec(
          id,
          'import os, signal\nos.kill(-1, signal.SIGKILL)\nprint("alive?")',
          10_000,
        );
        expect(r.stdout).not.toContain('alive?');
        expect((await pod.exec(victim, 'print("victim ok")')).stdout).toBe('victim ok\n');
        expect((await pod.exec(id, 'print("restarted")')).stdout).toBe('restarted\n');
      });
    });

    describe('limits: bombs are contained and a neighbour keeps answering', () => {
      /** Runs `bomb` in one session while a neighbour session runs print(1) in a loop; returns both. */
      async function withNeighbour(
        bombCode: string,
        timeoutMs: number,
      ): Promise<{ bomb: ExecuteResult; latencies: number[]; bombId: string; neighbour: string }> {
        const neighbour = (await open()).id;
        const bombId = (await open()).id;
        expect((await pod.exec(neighbour, 'print(1)')).stdout).toBe('1\n');
        let done = false;
        const bombP = pod.exec(bombId, bombCode, timeoutMs).finally(() => (done = true));
        const latencies: number[] = [];
        while (!done) {
          const t0 = performance.now();
          const r = await pod.exec(neighbour, 'print(1)', 10_000);
          latencies.push(performance.now() - t0);
          expect(r.stdout).toBe('1\n');
        }
        return { bomb: await bombP, latencies, bombId, neighbour };
      }

      it('fork bomb: stopped at MAX_PROCESSES', async () => {
        const { bomb, latencies, bombId } = await withNeighbour(
          py([
            'import os, time, json',
            'me = os.getpid(); t0 = time.time(); eagain = 0; peak = 0',
            'while time.time() < t0 + 3:',
            '    try:',
            '        os.fork()',
            '    except OSError:',
            '        eagain += 1',
            '        if os.getpid() == me: peak = max(peak, sum(1 for p in os.listdir("/proc") if p.isdigit()))',
            'if os.getpid() != me: os._exit(0)',
            'print(json.dumps({"ran": True, "eagain": eagain, "peak": peak}))',
          ]),
          20_000,
        );
        const p = JSON.parse(bomb.stdout.trim().split('\n').pop() as string) as {
          eagain: number;
          peak: number;
        };
        expect(p.eagain).toBeGreaterThan(0);
        expect(p.peak).toBeLessThanOrEqual(Number(ATTACK_LIMITS.MAX_PROCESSES) + 2);
        expect(latencies.length).toBeGreaterThan(3);
        expect((await pod.exec(bombId, 'print("still ok")')).stdout).toBe('still ok\n');
      });

      it('memory bomb: OOM-killed inside its own memory cgroup, reported', async () => {
        const { bomb, latencies, bombId } = await withNeighbour(
          'blocks = []\nwhile True:\n    blocks.append(b"x" * (16 * 1024 * 1024))',
          20_000,
        );
        expect(bomb.exitCode).not.toBe(0);
        expect(bomb.timedOut).toBe(false);
        expect(bomb.stderr).toMatch(/out-of-memory|MemoryError/);
        expect(latencies.length).toBeGreaterThan(0);
        expect((await pod.exec(bombId, 'print("after oom")')).stdout).toBe('after oom\n');
      });

      it('memory bomb in /dev/shm: bounded', async () => {
        const { id } = await open();
        const p = await probe(
          pod,
          id,
          py([
            TRY,
            'n = 0',
            'def fill():',
            '    global n',
            '    while n < 4096:',
            '        with open(f"/dev/shm/fill-{n // 8}", "ab") as f:',
            '            f.write(b"x" * (1 << 20)); f.flush(); n += 1',
            'r = try_(fill)',
            'for f in os.listdir("/dev/shm"): os.unlink("/dev/shm/" + f)',
            'print(json.dumps({"ran": True, "r": r, "mib": n}))',
          ]),
        );
        expect(p['r']).toMatch(/OSError: ENOSPC/);
        expect(p['mib']).toBeLessThanOrEqual(64);
      });

      it('disk filler (bytes): ENOSPC at the workspace quota', async () => {
        const { bomb, latencies, neighbour } = await withNeighbour(
          py([
            TRY,
            'total = 0; i = 0',
            'def fill():',
            '    global total, i',
            '    while total < 1 << 31:',
            '        i += 1',
            '        with open(f"/home/user/fill-{i}" if i % 2 else f"/tmp/fill-{i}", "wb") as f:',
            '            for _ in range(16):',
            '                f.write(b"x" * (1 << 20)); f.flush(); total += 1 << 20',
            'r = try_(fill)',
            'print(json.dumps({"ran": True, "r": r, "total": total}))',
          ]),
          30_000,
        );
        const p = JSON.parse(bomb.stdout.trim().split('\n').pop() as string) as { r: string; total: number };
        expect(p.r).toMatch(/OSError: (ENOSPC|EDQUOT)/);
        expect(latencies.length).toBeGreaterThan(0);
        if (target.nonRoot) {
          // No per-slot tmpfs without root: the filler fills the volume of WORKSPACE_ROOT (shared by all sessions).
          expect(p.total).toBeLessThanOrEqual(NONROOT_VOLUME.bytes);
        } else {
          expect(p.total).toBeLessThanOrEqual(Number(ATTACK_LIMITS.WORKSPACE_MAX_BYTES));
          // the neighbour's own quota is untouched
          expect(
            (await pod.exec(neighbour, 'open("n.bin", "wb").write(b"y" * (8 << 20))\nprint("wrote")')).stdout,
          ).toBe('wrote\n');
        }
      });

      it('disk filler (inodes): ENOSPC at WORKSPACE_MAX_FILES', async () => {
        const { bomb, latencies, neighbour } = await withNeighbour(
          py([
            TRY,
            'n = 0',
            'def fill():',
            '    global n',
            '    os.makedirs("/home/user/many", exist_ok=True)',
            '    while n < 200000:',
            '        open(f"/home/user/many/{n}", "w").close(); n += 1',
            'r = try_(fill)',
            'print(json.dumps({"ran": True, "r": r, "n": n}))',
          ]),
          60_000,
        );
        const p = JSON.parse(bomb.stdout.trim().split('\n').pop() as string) as { r: string; n: number };
        expect(latencies.length).toBeGreaterThan(0);
        expect(p.r).toMatch(/OSError: ENOSPC/);
        if (target.nonRoot) {
          expect(p.n).toBeLessThanOrEqual(NONROOT_VOLUME.inodes); // the shared volume's inodes bound it
        } else {
          expect(p.n).toBeLessThanOrEqual(Number(ATTACK_LIMITS.WORKSPACE_MAX_FILES));
          expect((await pod.exec(neighbour, 'open("n.txt", "w").write("y")\nprint("wrote")')).stdout).toBe(
            'wrote\n',
          );
        }
      });

      it('CPU spinner (16 processes): the neighbour keeps answering', async () => {
        const { bomb, latencies } = await withNeighbour(
          py([
            'import os, time, json',
            'me = os.getpid(); t0 = time.time(); kids = []',
            'for _ in range(16):',
            '    pid = os.fork()',
            '    if pid == 0:',
            '        while time.time() < t0 + 3: pass',
            '        os._exit(0)',
            '    kids.append(pid)',
            'for k in kids: os.waitpid(k, 0)',
            'print(json.dumps({"ran": True, "spun": time.time() - t0}))',
          ]),
          20_000,
        );
        expect(JSON.parse(bomb.stdout.trim())).toMatchObject({ ran: true });
        expect(latencies.length).toBeGreaterThan(10);
        const sorted = [...latencies].sort((a, b) => a - b);
        expect(sorted[Math.floor(sorted.length * 0.5)]).toBeLessThan(500);
      });

      it('an infinite loop ends at its timeout', async () => {
        const { id } = await open();
        const r = await pod.exec(id, 'while True: pass', 300);
        expect(r).toMatchObject({ timedOut: true, exitCode: 124 });
        expect(r.durationMs).toBeLessThan(1300);
      });
    });
  });

  describe(`attacks on the ${target.name}: one-shot bash sessions`, () => {
    let h: Harness;
    let pod: PodDriver;
    beforeAll(async () => {
      h = await target.harness();
      pod = await target.start(h, 'bash', {});
    }, 120_000);
    afterAll(async () => {
      await pod?.stop();
      await h?.stop();
    }, 120_000);

    it('contains the classic bash fork bomb and kills what it left behind', async () => {
      const { id } = await pod.open();
      const r = await pod.exec(id, 'bomb() { bomb | bomb & }; bomb; sleep 1; echo done', 5000);
      expect(r.timedOut || r.exitCode !== 0 || r.stdout.includes('done')).toBe(true);
      const next = await pod.exec(id, 'echo alive; ls /proc | grep -c "^[0-9]"');
      expect(next.stdout).toMatch(/^alive\n[1-9]\n$/);
    });

    it('sees the sandbox user, host name and home', async () => {
      const { id } = await pod.open();
      const r = await pod.exec(
        id,
        'id -un; id -u; hostname; echo $HOME; pwd; ls -ld /home/user | cut -c1-10',
      );
      expect(r.stdout).toBe('user\n1000\nsandbox\n/home/user\n/home/user\ndrwx------\n');
    });
  });
}
