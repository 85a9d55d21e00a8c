// Invariant 3 (kernel surface): seccomp at least as strict as Docker's default, no user
// namespaces, no capabilities, setuid binaries give nothing, /etc reduced.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { AttackContext } from '../driver/context';
import { Breach, InvalidProbe, PY_PRELUDE, expectBlocked, nonce, show, type Attempt } from '../driver/probe';
import { attack, type Attack } from './types';

const SECCOMP = ['EPERM', 'ENOSYS', 'EACCES'];

/** Runs `code` in a fresh single-threaded python process inside the session (unshare needs that). */
async function fresh(
  ctx: AttackContext,
  code: string,
  params: unknown = {},
): Promise<Record<string, Attempt>> {
  const s = await ctx.attacker();
  const { R } = await ctx.py<{ fresh: Record<string, Attempt> & { _error?: string } }>(
    s,
    `import subprocess
src = P["prelude"] + "\\nP = json.loads(" + repr(json.dumps(P["params"])) + ")\\nR = {}\\n" + P["code"] + "\\nprint('FRESH ' + json.dumps(R))"
out = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=60)
R["fresh"] = {"_error": "exit %d: %s" % (out.returncode, out.stderr[-800:])}
for line in out.stdout.splitlines():
    if line.startswith("FRESH "):
        R["fresh"] = json.loads(line[6:])`,
    { prelude: PY_PRELUDE, code, params },
  );
  if (R.fresh._error) throw new InvalidProbe(`the fresh process failed: ${R.fresh._error}`);
  return R.fresh;
}

function allBlocked(R: Record<string, Attempt>, names: string[], allowed: string[]): string {
  return names.map((n) => expectBlocked(n, R[n], allowed)).join('; ');
}

export const kernelAttacks: Attack[] = [
  attack(3, 'user-namespace', async (ctx) => {
    const R = await fresh(
      ctx,
      `R["unshare(CLONE_NEWUSER)"] = sysc("unshare", 0x10000000)
import subprocess, shutil
def cli():
    if not shutil.which("unshare"):
        raise FileNotFoundError(2, "no unshare binary")
    p = subprocess.run(["unshare", "-Ur", "id", "-u"], capture_output=True, text=True, timeout=10)
    if p.returncode == 0:
        return p.stdout.strip()
    raise PermissionError(1, p.stderr.strip()[:200])
R["unshare -Ur"] = attempt(cli)`,
    );
    return allBlocked(
      R,
      ['unshare(CLONE_NEWUSER)', 'unshare -Ur'],
      ['EPERM', 'ENOSPC', 'ENOSYS', 'EACCES', 'ENOENT'],
    );
  }),

  attack(3, 'other-namespaces', async (ctx) => {
    const flags: Record<string, number> = {
      NEWNS: 0x20000,
      NEWNET: 0x40000000,
      NEWPID: 0x20000000,
      NEWUTS: 0x04000000,
      NEWIPC: 0x08000000,
      NEWCGROUP: 0x02000000,
      NEWTIME: 0x80,
    };
    const R = await fresh(ctx, `for k, v in P["flags"].items():\n    R[k] = sysc("unshare", v)`, { flags });
    return allBlocked(R, Object.keys(flags), ['EPERM', 'ENOSYS', 'EINVAL', 'ENOSPC']);
  }),

  attack(3, 'mount', async (ctx) => {
    const R = await fresh(
      ctx,
      `R["mount tmpfs"] = sysc("mount", b"none", b"/tmp", b"tmpfs", 0, None)
R["mount proc"] = sysc("mount", b"proc", b"/tmp", b"proc", 0, None)
R["umount /proc"] = sysc("umount2", b"/proc", 2)
R["pivot_root"] = sysc("pivot_root", b"/tmp", b"/tmp")`,
    );
    return allBlocked(
      R,
      ['mount tmpfs', 'mount proc', 'umount /proc', 'pivot_root'],
      ['EPERM', 'ENOSYS', 'EACCES'],
    );
  }),

  attack(
    3,
    'ptrace-and-signal-others',
    async (ctx) => {
      const pids = [...ctx.local.processes().map((p) => p.pid), process.pid];
      for (const pid of pids) process.kill(pid, 0); // positive control: they exist
      const R = await fresh(
        ctx,
        `for pid in P["pids"]:
    R["ptrace %d" % pid] = sysc("ptrace", 16, pid, 0, 0)
    R["kill %d" % pid] = attempt(lambda: os.kill(pid, 0))`,
        { pids },
      );
      return allBlocked(
        R,
        pids.flatMap((p) => [`ptrace ${p}`, `kill ${p}`]),
        ['ESRCH', 'EPERM'],
      );
    },
    { local: true },
  ),

  attack(3, 'bpf', async (ctx) => {
    const R = await fresh(
      ctx,
      `import struct
attr = ctypes.create_string_buffer(struct.pack("IIII", 2, 4, 4, 1) + b"\\0" * 112)
R["BPF_MAP_CREATE"] = sysc("bpf", 0, attr, 128)
prog = ctypes.create_string_buffer(b"\\0" * 128)
R["BPF_PROG_LOAD"] = sysc("bpf", 5, prog, 128)`,
    );
    return allBlocked(R, ['BPF_MAP_CREATE', 'BPF_PROG_LOAD'], SECCOMP);
  }),

  attack(3, 'keyctl', async (ctx) => {
    const R = await fresh(
      ctx,
      `R["add_key"] = sysc("add_key", b"user", b"sec-e2e", b"x", 1, -2)
R["keyctl JOIN_SESSION_KEYRING"] = sysc("keyctl", 1, None)
R["keyctl GET_KEYRING_ID"] = sysc("keyctl", 0, -3, 0)`,
    );
    return allBlocked(R, ['add_key', 'keyctl JOIN_SESSION_KEYRING', 'keyctl GET_KEYRING_ID'], SECCOMP);
  }),

  attack(3, 'kernel-modules', async (ctx) => {
    const R = await fresh(
      ctx,
      `R["init_module"] = sysc("init_module", None, 0, b"")
R["finit_module"] = sysc("finit_module", 0, b"", 0)
R["delete_module"] = sysc("delete_module", b"sec_e2e_none", 0)`,
    );
    return allBlocked(R, ['init_module', 'finit_module', 'delete_module'], SECCOMP);
  }),

  attack(3, 'capabilities', async (ctx) => {
    const s = await ctx.attacker();
    const { R } = await ctx.py<{ status: Attempt }>(
      s,
      `R["status"] = attempt(lambda: read("/proc/self/status"))`,
    );
    if (!R.status.ok) throw new InvalidProbe(`cannot read /proc/self/status: ${show(R.status)}`);
    const status = String(R.status.value);
    const cap = (k: string): string => new RegExp(`^${k}:\\s*([0-9a-f]+)`, 'm').exec(status)?.[1] ?? '';
    const caps = {
      CapEff: cap('CapEff'),
      CapPrm: cap('CapPrm'),
      CapAmb: cap('CapAmb'),
      CapInh: cap('CapInh'),
      CapBnd: cap('CapBnd'),
    };
    if (!caps.CapEff) throw new InvalidProbe('no CapEff line in /proc/self/status');
    const held = Object.entries(caps).filter(([k, v]) => k !== 'CapBnd' && /[1-9a-f]/.test(v));
    if (held.length)
      throw new Breach(`the session holds capabilities: ${held.map(([k, v]) => `${k}=${v}`).join(' ')}`);
    const nnp = /^NoNewPrivs:\s*(\d)/m.exec(status)?.[1];
    return `CapEff=CapPrm=CapAmb=0 (CapBnd=${caps.CapBnd}, NoNewPrivs=${nnp})`;
  }),

  attack(3, 'setuid-binaries', async (ctx) => {
    const s = await ctx.attacker();
    const { R } = await ctx.py<{ found: string[]; runs: Record<string, Attempt> }>(
      s,
      `import stat, subprocess
R["found"] = []
for d in ("/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/lib/openssh", "/usr/lib/dbus-1.0"):
    try:
        for name in os.listdir(d):
            p = os.path.join(d, name)
            try:
                st = os.stat(p)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_mode & stat.S_ISUID and st.st_uid == 0:
                R["found"].append(p)
    except OSError:
        pass
R["runs"] = {}
for p in R["found"]:
    if os.path.basename(p) not in ("chfn", "chsh", "passwd", "su", "gpasswd", "newgrp", "mount", "umount"):
        continue
    def run():
        args = {"mount": [p, "--help"], "umount": [p, "--help"], "newgrp": [p]}.get(os.path.basename(p), [p])
        c = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        euid = None
        for _ in range(20):
            try:
                line = [l for l in read("/proc/%d/status" % c.pid).splitlines() if l.startswith("Uid:")][0]
                euid = int(line.split()[2])
                if euid == 0:
                    break
            except (OSError, IndexError):
                break
            time.sleep(0.05)
        c.kill()
        c.wait()
        return euid
    R["runs"][p] = attempt(run)`,
    );
    const root = Object.entries(R.runs).filter(([, r]) => r.ok && r.value === 0);
    if (root.length) throw new Breach(`setuid binaries ran as euid 0: ${root.map(([p]) => p).join(', ')}`);
    const ran = Object.entries(R.runs).filter(([, r]) => r.ok);
    if (!R.found.length) return 'no setuid-root binary visible';
    if (!ran.length)
      throw new InvalidProbe(
        `found ${R.found.length} setuid binaries but ran none: ${JSON.stringify(R.runs).slice(0, 300)}`,
      );
    return `${R.found.length} setuid-root binaries visible; ${ran.map(([p, r]) => `${p.split('/').pop()} euid ${String(r.value)}`).join(', ')}`;
  }),

  attack(
    3,
    'etc-reduced',
    async (ctx) => {
      const canary = `/etc/security-e2e-canary-${nonce()}`;
      writeFileSync(canary, 'host /etc canary\n', { mode: 0o644 });
      try {
        const host = readdirSync('/etc');
        const s = await ctx.attacker();
        const { R } = await ctx.py<{ etc: Attempt; canary: Attempt }>(
          s,
          `R["etc"] = attempt(lambda: sorted(os.listdir("/etc")))
R["canary"] = attempt(lambda: read(P["canary"]))`,
          { canary },
        );
        if (R.canary.ok)
          throw new Breach(`the host's /etc is visible (a file the test put in /etc is readable)`);
        const inside = (R.etc.value ?? []) as string[];
        const hostOnly = ['apt', 'ssh', 'sudoers', 'cron.d', 'systemd', 'redis', 'shadow'].filter((e) =>
          inside.includes(e),
        );
        if (hostOnly.length) throw new Breach(`/etc holds host configuration: ${hostOnly.join(', ')}`);
        return `${expectBlocked('host /etc canary', R.canary, ['ENOENT', 'EACCES'])}; /etc has ${inside.length} entries (host ${host.length})`;
      } finally {
        rmSync(canary, { force: true });
      }
    },
    { local: true },
  ),

  attack(3, 'perf-events', async (ctx) => {
    const R = await fresh(
      ctx,
      `import struct
attr = ctypes.create_string_buffer(struct.pack("IIQ", 1, 128, 0) + b"\\0" * 112)
R["perf_event_open"] = sysc("perf_event_open", attr, 0, -1, -1, 0)`,
    );
    return allBlocked(R, ['perf_event_open'], ['EPERM', 'EACCES', 'ENOSYS', 'ENOENT']);
  }),

  attack(3, 'open-by-handle', async (ctx) => {
    const R = await fresh(
      ctx,
      `import struct
h = ctypes.create_string_buffer(struct.pack("Ii", 8, 1) + b"\\0" * 8)
R["open_by_handle_at"] = sysc("open_by_handle_at", -100, h, 0)`,
    );
    return allBlocked(R, ['open_by_handle_at'], SECCOMP);
  }),

  attack(3, 'setns', async (ctx) => {
    const R = await fresh(
      ctx,
      `for ns in ("/proc/self/ns/net", "/proc/self/ns/mnt", "/proc/1/ns/mnt", "/proc/1/ns/pid"):
    r = attempt(lambda: os.open(ns, os.O_RDONLY))
    R[ns] = sysc("setns", r["value"], 0) if r["ok"] else r`,
    );
    return allBlocked(
      R,
      ['/proc/self/ns/net', '/proc/self/ns/mnt', '/proc/1/ns/mnt', '/proc/1/ns/pid'],
      ['EPERM', 'ENOSYS', 'EACCES', 'ENOENT', 'EINVAL'],
    );
  }),

  attack(3, 'privileged-syscalls', async (ctx) => {
    const R = await fresh(
      ctx,
      `buf = ctypes.create_string_buffer(256)
R["reboot"] = sysc("reboot", 0xfee1dead, 672274793, 0, None)
R["swapon"] = sysc("swapon", b"/tmp/sec-e2e-swap", 0)
R["chroot"] = sysc("chroot", b"/tmp")
R["kexec_load"] = sysc("kexec_load", 0, 0, None, 0)
R["syslog"] = sysc("syslog", 3, buf, 256)
R["acct"] = sysc("acct", None)`,
    );
    return allBlocked(
      R,
      ['reboot', 'swapon', 'chroot', 'kexec_load', 'syslog', 'acct'],
      ['EPERM', 'ENOSYS', 'EACCES'],
    );
  }),
];
