// Invariant 2 (network): none by default (not loopback, not Redis, persistence or the API), and
// package installs reach the package index only: nothing the session wrote runs with the network.
import { execFileSync, spawn } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Session } from '../driver/api';
import { tcpCanary, udpCanary, type TcpCanary } from '../driver/canaries';
import type { AttackContext } from '../driver/context';
import { Breach, InvalidProbe, expectBlocked, nonce, show, type Attempt } from '../driver/probe';
import { attack, type Attack } from './types';

const CONNECT_BLOCKED = [
  'ECONNREFUSED',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EPERM',
  'EACCES',
  'EADDRNOTAVAIL',
  'TimeoutError',
  'timeout',
  'EAFNOSUPPORT',
];

/** Positive control: the test itself reaches host:port. */
async function reachable(host: string, port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const sock = connect({ host, port, timeout: 3000 });
    sock.once('connect', () => {
      sock.destroy();
      resolve();
    });
    sock.once('timeout', () => reject(new Error('timeout')));
    sock.once('error', reject);
  }).catch((err: Error) => {
    throw new InvalidProbe(
      `positive control failed: the test cannot connect to ${host}:${port} (${err.message})`,
    );
  });
}

async function tcpBlocked(
  ctx: AttackContext,
  targets: Array<{ label: string; host: string; port: number }>,
): Promise<string> {
  for (const t of targets) await reachable(t.host, t.port);
  const s = await ctx.attacker();
  const { R } = await ctx.py<Record<string, Attempt>>(
    s,
    `for t in P["targets"]:
    R[t["label"]] = attempt(lambda: connect_tcp(t["host"], t["port"]))`,
    { targets },
  );
  return targets
    .map((t) => expectBlocked(`${t.label} ${t.host}:${t.port}`, R[t.label], CONNECT_BLOCKED))
    .join('; ');
}

async function withCanary<T>(host: string, fn: (c: TcpCanary) => Promise<T>): Promise<T> {
  const c = await tcpCanary(host);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

/** The API's host:port as seen from the test (the address session code would aim at). */
async function apiAddress(ctx: AttackContext): Promise<{ host: string; port: number }> {
  const url = new URL(ctx.target.baseUrl);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = (await lookup(url.hostname)).address;
  return { host, port };
}

/** Installs packages; requires that the installer really ran (200, or 400 naming the install). */
async function install(
  ctx: AttackContext,
  s: Session,
  manager: 'pip' | 'npm',
  packages: string[],
): Promise<string> {
  const r = await ctx.a.request<{ error?: { message?: string } }>(
    'POST',
    `/v1/sessions/${s.id}/packages`,
    { manager, packages },
    { timeoutMs: 600_000 },
  );
  if (r.status === 200) return 'installed';
  if (r.status === 400 && /install|pip|npm|exit/i.test(r.body?.error?.message ?? ''))
    return `install failed (${(r.body?.error?.message ?? '').split('\n').slice(-1)[0]?.slice(0, 80)})`;
  throw new InvalidProbe(`the install did not run: HTTP ${r.status} ${r.raw.toString().slice(0, 300)}`);
}

function noHits(c: TcpCanary, what: string, installed: string): string {
  if (c.hits.length)
    throw new Breach(
      `${what}: the loopback canary was reached ${c.hits.length}× (${JSON.stringify(c.hits[0]).slice(0, 80)})`,
    );
  return `${what}: canary untouched; ${installed}`;
}

/** Writes files into the session's workspace through the file API. */
async function putFiles(
  ctx: AttackContext,
  s: Session,
  files: Record<string, string | Buffer>,
): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const r = await ctx.a.request('PUT', `/v1/sessions/${s.id}/files/${path}`, undefined, {
      raw: typeof content === 'string' ? Buffer.from(content) : content,
    });
    if (r.status !== 204) throw new InvalidProbe(`could not write ${path}: HTTP ${r.status}`);
  }
}

const pyConnect = (port: number, tag: string): string =>
  `import socket\ntry:\n    socket.create_connection(("127.0.0.1", ${port}), timeout=3).sendall(b"${tag}")\nexcept Exception:\n    pass\n`;
const jsConnect = (port: number, tag: string): string =>
  `try { const s = require('net').connect(${port}, '127.0.0.1', () => s.end('${tag}')); s.on('error', () => {}); } catch (e) {}\n`;

export const networkAttacks: Attack[] = [
  attack(2, 'loopback-api', async (ctx) => {
    const a = await apiAddress(ctx);
    return tcpBlocked(ctx, [{ label: 'api', ...a }]);
  }),

  attack(
    2,
    'loopback-redis',
    async (ctx) => tcpBlocked(ctx, [{ label: 'redis', host: '127.0.0.1', port: ctx.local.ports.redis }]),
    { local: true },
  ),

  attack(
    2,
    'loopback-persistence',
    async (ctx) =>
      tcpBlocked(ctx, [{ label: 'persistence', host: '127.0.0.1', port: ctx.local.ports.persistence }]),
    { local: true },
  ),

  attack(
    2,
    'loopback-executor-health',
    async (ctx) =>
      tcpBlocked(
        ctx,
        ctx.local
          .processes()
          .filter((p) => p.role === 'executor')
          .map((p) => ({
            label: p.env['POD_NAME'] ?? String(p.pid),
            host: '127.0.0.1',
            port: Number(p.env['PORT']),
          })),
      ),
    { local: true },
  ),

  attack(
    2,
    'loopback-canary-tcp',
    async (ctx) =>
      withCanary('127.0.0.1', async (c) => {
        const r = await tcpBlocked(ctx, [{ label: 'canary', host: '127.0.0.1', port: c.port }]);
        c.hits.splice(0, 1); // the positive control's own connection
        return noHits(c, r, 'session refused');
      }),
    { local: true },
  ),

  attack(
    2,
    'loopback-ipv6',
    async (ctx) =>
      withCanary('::1', async (c) => {
        const r = await tcpBlocked(ctx, [{ label: 'canary6', host: '::1', port: c.port }]);
        c.hits.splice(0, 1);
        return noHits(c, r, 'session refused');
      }),
    { local: true },
  ),

  attack(
    2,
    'loopback-udp',
    async (ctx) => {
      const c = await udpCanary('127.0.0.1');
      try {
        // positive control: a datagram from the test arrives
        const { createSocket } = await import('node:dgram');
        const sock = createSocket('udp4');
        await new Promise<void>((r) => sock.send('control', c.port, '127.0.0.1', () => r()));
        sock.close();
        const t0 = Date.now();
        while (!c.hits.length && Date.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 20));
        if (c.hits.length !== 1)
          throw new InvalidProbe('positive control: the UDP canary did not receive the test datagram');
        c.hits.length = 0;
        const s = await ctx.attacker();
        const { R } = await ctx.py<Record<string, Attempt>>(
          s,
          `def send():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(5):
        u.sendto(b"udp-" + P["n"].encode(), ("127.0.0.1", P["port"]))
    return "sent"
R["udp"] = attempt(send)`,
          { port: c.port, n: nonce() },
        );
        await new Promise((r) => setTimeout(r, 500));
        if (c.hits.length) throw new Breach(`UDP datagrams reached the host's loopback (${c.hits.length})`);
        return `UDP to the host's loopback: ${show(R['udp'])}, canary received nothing`;
      } finally {
        await c.close();
      }
    },
    { local: true },
  ),

  attack(
    2,
    'dns-to-loopback-resolver',
    async (ctx) => {
      const c = await udpCanary('127.0.0.1');
      try {
        const s = await ctx.attacker();
        const { R } = await ctx.py<Record<string, Attempt>>(
          s,
          `import struct
def query():
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in (P["n"], "security-e2e", "invalid"):
        q += bytes([len(label)]) + label.encode()
    q += b"\\x00" + struct.pack(">HH", 1, 1)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(1)
    u.sendto(q, ("127.0.0.1", P["port"]))
    return "sent"
R["dns"] = attempt(query)
R["resolv"] = attempt(lambda: read("/etc/resolv.conf"))
R["localhost"] = attempt(lambda: socket.getaddrinfo("localhost", 80)[0][4][0])`,
          { port: c.port, n: nonce() },
        );
        await new Promise((r) => setTimeout(r, 500));
        if (c.hits.length) throw new Breach('a DNS query reached a resolver on the host loopback');
        return `DNS query: ${show(R['dns'])}, resolver canary untouched; resolv.conf ${show(R['resolv'])}`;
      } finally {
        await c.close();
      }
    },
    { local: true },
  ),

  attack(2, 'raw-sockets', async (ctx) => {
    const s = await ctx.attacker();
    const { R } = await ctx.py<Record<string, Attempt>>(
      s,
      `R["raw_icmp"] = attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).fileno())
R["raw_tcp"] = attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP).fileno())
R["packet"] = attempt(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3)).fileno())
R["raw6"] = attempt(lambda: socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6).fileno())`,
    );
    return ['raw_icmp', 'raw_tcp', 'packet', 'raw6']
      .map((k) => expectBlocked(k, R[k], ['EPERM', 'EACCES', 'EAFNOSUPPORT', 'EPROTONOSUPPORT']))
      .join('; ');
  }),

  attack(2, 'network-interfaces', async (ctx) => {
    const s = await ctx.attacker();
    const { R } = await ctx.py<{ ifs: Attempt }>(
      s,
      `R["ifs"] = attempt(lambda: [n for _, n in socket.if_nameindex()])`,
    );
    if (!R.ifs.ok) return expectBlocked('if_nameindex', R.ifs, ['EPERM', 'EACCES', 'ENOENT']);
    const ifs = R.ifs.value as string[];
    const other = ifs.filter((i) => i !== 'lo');
    if (other.length) throw new Breach(`the session sees network interfaces: ${ifs.join(', ')}`);
    return `interfaces: ${ifs.join(', ') || 'none'}`;
  }),

  attack(
    2,
    'abstract-unix-socket',
    async (ctx) => {
      // The listener is a python process (libuv's abstract-name handling is not what the kernel
      // sees from other clients); the test connects to it first, from another python process.
      const name = `security-e2e-${nonce()}`;
      const server = spawn(
        '/usr/bin/python3',
        [
          '-c',
          `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\\0" + sys.argv[1])
s.listen(16)
print("READY", flush=True)
while True:
    c, _ = s.accept()
    print("HIT", flush=True)
    c.close()`,
          name,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      server.stdout.on('data', (d: Buffer) => (out += d.toString()));
      try {
        const t0 = Date.now();
        while (!out.includes('READY') && Date.now() - t0 < 10_000)
          await new Promise((r) => setTimeout(r, 50));
        execFileSync('/usr/bin/python3', [
          '-c',
          'import socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\ns.connect("\\0" + sys.argv[1])',
          name,
        ]);
        while (!out.includes('HIT') && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
        if (!out.includes('HIT'))
          throw new InvalidProbe('positive control: the test cannot connect to its abstract socket');
        const before = out.split('HIT').length;
        const s = await ctx.attacker();
        const { R } = await ctx.py<{ r: Attempt }>(
          s,
          `def go():
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.settimeout(3)
    u.connect("\\0" + P["name"])
    return "connected"
R["r"] = attempt(go)`,
          { name },
        );
        await new Promise((r) => setTimeout(r, 300));
        if (R.r.ok || out.split('HIT').length > before)
          throw new Breach("connected to an abstract unix socket in the host's network namespace");
        return expectBlocked('abstract socket', R.r, ['ECONNREFUSED', 'ENOENT', 'EPERM', 'EACCES']);
      } finally {
        server.kill('SIGKILL');
      }
    },
    { local: true },
  ),

  attack(
    2,
    'pip-install-sitecustomize',
    async (ctx) =>
      withCanary('127.0.0.1', async (c) => {
        await reachable('127.0.0.1', c.port);
        c.hits.length = 0;
        const s = await ctx.session();
        await putFiles(ctx, s, { '.packages/python/sitecustomize.py': pyConnect(c.port, 'sitecustomize') });
        const installed = await install(ctx, s, 'pip', [`sec-e2e-absent-${nonce()}`]);
        return noHits(c, 'sitecustomize.py on the installer path', installed);
      }),
    { local: true, timeoutMs: 300_000 },
  ),

  attack(
    2,
    'pip-install-session-env',
    async (ctx) =>
      withCanary('127.0.0.1', async (c) => {
        await reachable('127.0.0.1', c.port);
        c.hits.length = 0;
        const url = `http://127.0.0.1:${c.port}/simple`;
        const s = await ctx.session({
          env: {
            PIP_INDEX_URL: url,
            PIP_EXTRA_INDEX_URL: url,
            PIP_TRUSTED_HOST: '127.0.0.1',
            PYTHONPATH: 'evilpath',
            PYTHONSTARTUP: 'evilpath/startup.py',
          },
        });
        await putFiles(ctx, s, {
          'evilpath/sitecustomize.py': pyConnect(c.port, 'pythonpath'),
          'evilpath/startup.py': pyConnect(c.port, 'startup'),
        });
        const installed = await install(ctx, s, 'pip', [`sec-e2e-absent-${nonce()}`]);
        return noHits(c, 'PIP_INDEX_URL/PYTHONPATH from the session env', installed);
      }),
    { local: true, timeoutMs: 300_000 },
  ),

  attack(
    2,
    'pip-install-user-config',
    async (ctx) =>
      withCanary('127.0.0.1', async (c) => {
        await reachable('127.0.0.1', c.port);
        c.hits.length = 0;
        const s = await ctx.session();
        const conf = `[global]\nindex-url = http://127.0.0.1:${c.port}/simple\ntrusted-host = 127.0.0.1\n`;
        const { R } = await ctx.py<Record<string, Attempt>>(
          s,
          `for d in {os.path.expanduser("~"), os.getcwd(), "/home/user", "/tmp/home", os.environ.get("XDG_CONFIG_HOME", "/tmp/.config")}:
    for sub in (".config/pip", ".pip", "pip", ""):
        p = os.path.join(d, sub)
        def w():
            os.makedirs(p, exist_ok=True)
            with open(os.path.join(p, "pip.conf"), "w") as f:
                f.write(P["conf"] + "# " + p + "\\n")
            return p
        R[p] = attempt(w)`,
          { conf },
        );
        if (!Object.values(R).some((r) => r.ok)) throw new InvalidProbe('could not write any pip.conf');
        const installed = await install(ctx, s, 'pip', [`sec-e2e-absent-${nonce()}`]);
        return noHits(
          c,
          `pip.conf in ${Object.values(R).filter((r) => r.ok).length} config places`,
          installed,
        );
      }),
    { local: true, timeoutMs: 300_000 },
  ),

  attack(
    2,
    'pip-install-build-backend',
    async (ctx) =>
      withCanary('127.0.0.1', async (c) => {
        await reachable('127.0.0.1', c.port);
        c.hits.length = 0;
        const n = nonce();
        const pkg = `secevil${n}`;
        const s = await ctx.session({ env: { PIP_FIND_LINKS: 'evil-dist', PIP_NO_INDEX: '1' } });
        // an sdist whose in-tree build backend (what setup.py is for setuptools) phones home
        const { R } = await ctx.py<{ made: Attempt }>(
          s,
          `import tarfile, io
def make():
    os.makedirs("evil-dist", exist_ok=True)
    files = {
        "pyproject.toml": '[build-system]\\nrequires = []\\nbuild-backend = "backend"\\nbackend-path = ["."]\\n[project]\\nname = "%s"\\nversion = "1.0"\\n' % P["pkg"],
        "backend.py": P["connect"] + "def build_wheel(*a, **k):\\n    raise RuntimeError('no')\\ndef build_sdist(*a, **k):\\n    raise RuntimeError('no')\\n",
        "setup.py": P["connect"],
        "PKG-INFO": "Metadata-Version: 2.1\\nName: %s\\nVersion: 1.0\\n" % P["pkg"],
    }
    with tarfile.open("evil-dist/%s-1.0.tar.gz" % P["pkg"], "w:gz") as t:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo("%s-1.0/%s" % (P["pkg"], name))
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    os.makedirs(os.path.expanduser("~/.config/pip"), exist_ok=True)
    with open(os.path.expanduser("~/.config/pip/pip.conf"), "w") as f:
        f.write("[global]\\nfind-links = %s\\nno-index = true\\n" % os.path.abspath("evil-dist"))
    return sorted(os.listdir("evil-dist"))
R["made"] = attempt(make)`,
          { pkg, connect: pyConnect(c.port, 'build-backend') },
        );
        if (!R.made.ok) throw new InvalidProbe(`could not build the sdist: ${show(R.made)}`);
        const installed = await install(ctx, s, 'pip', [pkg]);
        return noHits(c, 'session-built sdist (build backend / setup.py)', installed);
      }),
    { local: true, timeoutMs: 300_000 },
  ),

  attack(
    2,
    'npm-install-node-options',
    async (ctx) =>
      withCanary('127.0.0.1', async (c) => {
        await reachable('127.0.0.1', c.port);
        c.hits.length = 0;
        const n = nonce();
        const s = await ctx.session({
          template: ctx.target.nodeTemplate,
          env: { NODE_OPTIONS: `--require ./evil-${n}.js`, NODE_PATH: '.' },
        });
        await putFiles(ctx, s, { [`evil-${n}.js`]: jsConnect(c.port, 'node-options') });
        const installed = await install(ctx, s, 'npm', ['is-number']);
        return noHits(c, 'NODE_OPTIONS --require from the session env', installed);
      }),
    { local: true, timeoutMs: 300_000 },
  ),

  attack(
    2,
    'npm-install-project-npmrc',
    async (ctx) =>
      withCanary('127.0.0.1', async (c) => {
        await reachable('127.0.0.1', c.port);
        c.hits.length = 0;
        const s = await ctx.session({ template: ctx.target.nodeTemplate });
        await putFiles(ctx, s, { '.npmrc': `registry=http://127.0.0.1:${c.port}/\nfetch-retries=0\n` });
        const installed = await install(ctx, s, 'npm', ['is-number']);
        return noHits(c, '.npmrc in the workspace (registry on loopback)', installed);
      }),
    { local: true, timeoutMs: 300_000 },
  ),

  attack(
    2,
    'npm-install-lifecycle-script',
    async (ctx) =>
      withCanary('127.0.0.1', async (c) => {
        await reachable('127.0.0.1', c.port);
        c.hits.length = 0;
        const n = nonce();
        const name = `secevil${n}`;
        const dir = mkdtempSync(join(tmpdir(), 'security-e2e-npm-'));
        try {
          mkdirSync(join(dir, 'package'));
          const script = `node -e "const s=require('net').connect(${c.port},'127.0.0.1',()=>s.end('lifecycle'));s.on('error',()=>{})"`;
          writeFileSync(
            join(dir, 'package', 'package.json'),
            JSON.stringify({
              name,
              version: '1.0.0',
              scripts: { preinstall: script, install: script, postinstall: script },
            }),
          );
          execFileSync('tar', ['-czf', join(dir, 'evil.tgz'), '-C', dir, 'package']);
          const s = await ctx.session({ template: ctx.target.nodeTemplate });
          await putFiles(ctx, s, {
            'package.json': JSON.stringify({
              name: `victim${n}`,
              version: '1.0.0',
              dependencies: { [name]: `file:./${name}-1.0.0.tgz` },
              scripts: { preinstall: script, postinstall: script, prepare: script },
            }),
            [`${name}-1.0.0.tgz`]: readFileSync(join(dir, 'evil.tgz')),
          });
          const installed = await install(ctx, s, 'npm', ['is-number']);
          if (installed !== 'installed')
            throw new InvalidProbe(
              `npm did not install (${installed}): the lifecycle scripts were never reached`,
            );
          return noHits(c, 'install scripts of a session-provided dependency', installed);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
    { local: true, timeoutMs: 300_000 },
  ),
];
