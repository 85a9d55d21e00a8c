// Invariant 1 (files): session code and the file API reach only the session's workspace and
// private tmp, plus read-only system directories.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { AttackContext } from '../driver/context';
import type { Api, Session } from '../driver/api';
import { Breach, InvalidProbe, expectBlocked, nonce, show, type Attempt } from '../driver/probe';
import { attack, type Attack } from './types';

const NO_ACCESS = ['ENOENT', 'EACCES', 'EPERM', 'ENOTDIR', 'ESRCH', 'ELOOP'];
/** Variables of the platform's own processes (never of a session's). */
const PLATFORM_ENV =
  /REDIS_URL|REDIS_PASSWORD|EXECUTOR_API_KEYS|EXECUTOR_ADMIN_KEYS|KUBERNETES_SERVICE|INTERNAL_API_TOKEN|POD_NAME=|WORKSPACE_ROOT=/;
/** Command lines of platform or host processes. */
const PLATFORM_CMD = /dist\/apps\/|main\.js|redis-server|jest|platform\.ts|kubelet|containerd|sshd|systemd/;
/** The sandbox's own init (bubblewrap): its argv names host paths, but it is the session's. */
const SANDBOX_INIT = /^(\/usr\/bin\/)?bwrap[\s\0]/;

/** The test's own view of a host file: the positive control of an attack on it. */
export function hostRead(path: string): string {
  try {
    const text = readFileSync(path, 'utf8');
    if (!text.length) throw new Error('empty');
    return text;
  } catch (err) {
    throw new InvalidProbe(
      `positive control failed: the test cannot read ${path} (${(err as Error).message})`,
    );
  }
}

/** Reads each path in the session; every one must be blocked (or, when readable, not the host's). */
async function readsBlocked(
  ctx: AttackContext,
  paths: Array<{ path: string; host?: string; list?: boolean }>,
): Promise<string> {
  const s = await ctx.attacker();
  const { R } = await ctx.py<Record<string, Attempt>>(
    s,
    `for i, p in enumerate(P["paths"]):
    R[str(i)] = attempt(lambda: sorted(os.listdir(p["path"])) if p.get("list") else read(p["path"]))`,
    { paths },
  );
  const out: string[] = [];
  paths.forEach((p, i) => {
    const r = R[String(i)];
    if (r?.ok && p.host !== undefined) {
      const v = typeof r.value === 'string' ? r.value : JSON.stringify(r.value);
      if (p.list || v === p.host.slice(0, v.length) || (p.host.length > 8 && v.includes(p.host.trim())))
        throw new Breach(`${p.path}: readable from the session: ${show(r)}`);
      out.push(`${p.path}: the sandbox's own (differs from the host's)`);
      return;
    }
    if (r?.ok) throw new Breach(`${p.path}: readable from the session: ${show(r)}`);
    out.push(expectBlocked(p.path, r, NO_ACCESS));
  });
  return out.join('; ');
}

/** A session of another tenant holding a secret file; returns where it lives. */
async function victim(
  ctx: AttackContext,
  where: (s: Session) => Promise<Session>,
): Promise<{
  attacker: Session;
  victim: Session;
  name: string;
  secret: string;
  cwd: string;
  hostPath?: string;
}> {
  const attacker = await ctx.attacker();
  const v = await where(attacker);
  const n = nonce();
  const name = `victim-secret-${n}.txt`;
  const secret = `victim-content-${n}`;
  const { R } = await ctx.py<{ cwd: string; self: Attempt }>(
    v,
    `with open(P["name"], "w") as f:
    f.write(P["secret"])
R["cwd"] = os.getcwd()
R["self"] = attempt(lambda: read(P["name"]))`,
    { name, secret },
    {},
    ctx.b,
  );
  if (!R.self.ok || R.self.value !== secret)
    throw new InvalidProbe(`control: the victim cannot read its own file: ${show(R.self)}`);
  let hostPath: string | undefined;
  if (ctx.target.local) {
    hostPath = findHostFile(ctx, name);
    if (!hostPath || hostRead(hostPath) !== secret)
      throw new InvalidProbe(`control: the test cannot find the victim's file ${name} on the host`);
  }
  return { attacker, victim: v, name, secret, cwd: R.cwd, hostPath };
}

/** Finds a file by name under the executors' WORKSPACE_ROOTs (the test is root on the host). */
export function findHostFile(ctx: AttackContext, name: string): string | undefined {
  // each executor runs in its own mount namespace (its slot tmpfs mounts live there, like a pod's):
  // look through /proc/<pid>/root, which resolves paths in that namespace
  const roots = ctx.local
    .processes()
    .filter((p) => p.role === 'executor' && !!p.env['WORKSPACE_ROOT'])
    .flatMap((p) => [`/proc/${p.pid}/root${p.env['WORKSPACE_ROOT']}`, p.env['WORKSPACE_ROOT'] as string]);
  const walk = (dir: string, depth: number): string | undefined => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return undefined;
    }
    if (entries.includes(name)) return join(dir, name);
    if (depth <= 0) return undefined;
    for (const e of entries) {
      const p = join(dir, e);
      try {
        if (!statSync(p).isDirectory()) continue;
      } catch {
        continue;
      }
      const found = walk(p, depth - 1);
      if (found) return found;
    }
    return undefined;
  };
  for (const r of roots) {
    const f = walk(r, 4);
    if (f) return f;
  }
  return undefined;
}

/** The attacker looks for the victim's file everywhere it can think of. */
async function hunt(ctx: AttackContext, v: Awaited<ReturnType<typeof victim>>): Promise<string> {
  const { R } = await ctx.py<{ found: Array<{ path: string; r: Attempt }>; tried: number }>(
    v.attacker,
    `name, secret = P["name"], P["secret"]
cands = [c for c in P["direct"] if c]
cands.append(os.path.join(P["cwd"], name))
here = os.getcwd()
# siblings of the workspace and its ancestors (slot-N/work, other pods' roots), bounded
deadline = time.time() + 8
seen = 0
for up in range(1, 5):
    base = os.path.abspath(os.path.join(here, *([".."] * up)))
    for root, dirs, files in os.walk(base):
        seen += 1
        if name in files:
            cands.append(os.path.join(root, name))
        if root.count(os.sep) - base.count(os.sep) >= 3 or time.time() > deadline:
            dirs[:] = []
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev", "node_modules", ".git")]
    if time.time() > deadline:
        break
for pid in os.listdir("/proc"):
    if pid.isdigit():
        cands.append("/proc/%s/cwd/%s" % (pid, name))
        cands.append("/proc/%s/root%s/%s" % (pid, P["cwd"], name))
R["tried"] = len(cands) + seen
R["found"] = []
for c in cands:
    r = attempt(lambda: read(c))
    if r["ok"] or r.get("errno") not in ("ENOENT", "ENOTDIR", "ESRCH"):
        R["found"].append({"path": c, "r": r})`,
    {
      name: v.name,
      secret: v.secret,
      cwd: v.cwd,
      direct: [v.hostPath, v.hostPath?.replace(/^\/proc\/\d+\/root/, '')],
    },
  );
  const leaked = R.found.filter((f) => f.r.ok && String(f.r.value).includes(v.secret));
  if (leaked.length) throw new Breach(`read another session's file: ${leaked.map((l) => l.path).join(', ')}`);
  const other = R.found.filter((f) => f.r.ok);
  if (other.length)
    throw new Breach(`opened unexpected files on the way: ${other.map((l) => l.path).join(', ')}`);
  return `${R.tried} places tried, none readable (${R.found.length} refused with ${[
    ...new Set(R.found.map((f) => f.r.errno ?? f.r.type)),
  ].join('/')})`;
}

/** PUT/GET/DELETE through the file API; `path` is sent verbatim. */
function filesPath(s: Session, path: string): string {
  return `/v1/sessions/${s.id}/files/${path}`;
}

/** A probe that makes symlinks in the attacker's workspace: name → target. */
async function makeLinks(ctx: AttackContext, s: Session, links: Record<string, string>): Promise<void> {
  const { R } = await ctx.py<Record<string, Attempt>>(
    s,
    `for name, target in P["links"].items():
    d = os.path.dirname(name)
    if d:
        os.makedirs(d, exist_ok=True)
    if os.path.lexists(name):
        os.remove(name)
    os.symlink(target, name)
    R[name] = attempt(lambda: os.readlink(name))`,
    { links },
  );
  for (const [name, target] of Object.entries(links))
    if (!R[name]?.ok || R[name]?.value !== target)
      throw new InvalidProbe(`control: could not make symlink ${name} -> ${target}: ${show(R[name])}`);
}

/** Control: the file API works for a plain file of this session. */
async function fileApiWorks(ctx: AttackContext, s: Session): Promise<void> {
  const name = `plain-${nonce()}.txt`;
  const put = await ctx.a.request('PUT', filesPath(s, name), undefined, { raw: Buffer.from('plain') });
  const get = await ctx.a.request('GET', filesPath(s, name));
  if (put.status !== 204 || get.status !== 200 || get.raw.toString() !== 'plain')
    throw new InvalidProbe(
      `control: the file API does not work on a plain file (PUT ${put.status}, GET ${get.status})`,
    );
}

const refused = (status: number): boolean => status === 400 || status === 404 || status === 403;

/** Link targets: host canaries locally, pod files remotely. */
function outTargets(ctx: AttackContext): { file: string; dir: string; content?: string } {
  if (ctx.target.local) {
    const h = ctx.hostFiles;
    return { file: h.file, dir: h.dir, content: h.content };
  }
  return { file: '/etc/hostname', dir: '/etc' };
}

export const fileAttacks: Attack[] = [
  attack(1, 'host-etc-shadow', async (ctx) => {
    if (ctx.target.local) hostRead('/etc/shadow');
    return readsBlocked(ctx, [{ path: '/etc/shadow' }, { path: '/etc/gshadow' }]);
  }),

  attack(
    1,
    'host-etc-identity',
    async (ctx) => {
      const paths = ['/etc/hostname', '/etc/machine-id']
        .filter((p) => existsSync(p))
        .map((p) => ({ path: p, host: hostRead(p) }));
      if (!paths.length)
        throw new InvalidProbe('control: the host has neither /etc/hostname nor /etc/machine-id');
      return readsBlocked(ctx, paths);
    },
    { local: true },
  ),

  attack(
    1,
    'host-tmp-canary',
    async (ctx) => {
      const h = ctx.hostFiles;
      hostRead(h.file);
      return readsBlocked(ctx, [{ path: h.file }, { path: h.dir, list: true }]);
    },
    { local: true },
  ),

  attack(
    1,
    'checkout-files',
    async (ctx) => {
      const root = ctx.local.rootDir;
      hostRead(join(root, 'package.json'));
      return readsBlocked(ctx, [
        { path: join(root, 'package.json') },
        { path: join(root, 'tsconfig.base.json') },
        { path: root, list: true },
      ]);
    },
    { local: true },
  ),

  attack(
    1,
    'executor-files',
    async (ctx) => {
      const { rootDir, dataDir } = ctx.local;
      const exec = ctx.local.processes().find((p) => p.role === 'executor');
      if (!exec) throw new InvalidProbe('no executor process found');
      const bundle = join(rootDir, 'dist/apps/executor/main.js');
      hostRead(bundle);
      const ws = exec.env['WORKSPACE_ROOT'] as string;
      if (!existsSync(ws) || !existsSync(join(dataDir, 'logs')))
        throw new InvalidProbe('control: the workspace root or logs dir does not exist on the host');
      return readsBlocked(ctx, [
        { path: bundle },
        { path: join(dataDir, 'logs'), list: true },
        { path: join(dataDir, 'redis'), list: true },
        { path: dataDir, list: true },
        { path: ws, list: true },
        { path: `/proc/${exec.pid}/cwd`, list: true },
        { path: `/proc/${exec.pid}/root${dataDir}`, list: true },
      ]);
    },
    { local: true },
  ),

  attack(1, 'other-session-same-pod', async (ctx) =>
    hunt(ctx, await victim(ctx, (s) => ctx.samePod(s, ctx.b))),
  ),

  attack(1, 'other-session-other-pod', async (ctx) =>
    hunt(ctx, await victim(ctx, (s) => ctx.otherPod(s, ctx.b))),
  ),

  attack(
    1,
    'proc-host-cmdline',
    async (ctx) => {
      const pids = [...ctx.local.processes().map((p) => p.pid), process.pid];
      return readsBlocked(
        ctx,
        pids.map((pid) => ({
          path: `/proc/${pid}/cmdline`,
          host: hostRead(`/proc/${pid}/cmdline`).replace(/\0/g, '\u0000'),
        })),
      );
    },
    { local: true },
  ),

  attack(
    1,
    'proc-host-environ',
    async (ctx) => {
      const procs = ctx.local.processes();
      const pids = [...procs.map((p) => p.pid), process.pid];
      return readsBlocked(
        ctx,
        pids.map((pid) => ({ path: `/proc/${pid}/environ`, host: hostRead(`/proc/${pid}/environ`) })),
      );
    },
    { local: true },
  ),

  attack(1, 'proc-1', async (ctx) => {
    const s = await ctx.attacker();
    const { R } = await ctx.py<Record<string, Attempt>>(
      s,
      `R["cmdline"] = attempt(lambda: read("/proc/1/cmdline"))
R["environ"] = attempt(lambda: read("/proc/1/environ"))
R["root"] = attempt(lambda: sorted(os.listdir("/proc/1/root/")))`,
    );
    const out: string[] = [];
    if (ctx.target.local) {
      const host = hostRead('/proc/1/cmdline');
      if (R['cmdline']?.ok && R['cmdline'].value === host)
        throw new Breach(`/proc/1 is the host's init: ${show(R['cmdline'])}`);
      out.push(`/proc/1/cmdline: ${R['cmdline']?.ok ? "the sandbox's own init" : show(R['cmdline'])}`);
    }
    const env = R['environ'];
    if (env?.ok && PLATFORM_ENV.test(String(env.value)))
      throw new Breach(`/proc/1/environ shows platform variables: ${show(env)}`);
    const cmd1 = String(R['cmdline']?.value ?? '');
    if (R['cmdline']?.ok && !SANDBOX_INIT.test(cmd1) && PLATFORM_CMD.test(cmd1))
      throw new Breach(`/proc/1 is a platform process: ${show(R['cmdline'])}`);
    out.push(`/proc/1/environ: ${env?.ok ? 'no platform variables' : show(env)}`);
    return out.join('; ');
  }),

  attack(1, 'proc-visible-processes', async (ctx) => {
    const s = await ctx.attacker();
    const { R } = await ctx.py<{ procs: Array<{ pid: number; cmd: string }> }>(
      s,
      `R["procs"] = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        r = attempt(lambda: read("/proc/%s/cmdline" % pid).replace("\\0", " "))
        R["procs"].append({"pid": int(pid), "cmd": r["value"] if r["ok"] else "?" + str(r.get("errno"))})`,
    );
    const foreign = R.procs.filter((p) => !SANDBOX_INIT.test(p.cmd) && PLATFORM_CMD.test(p.cmd));
    if (ctx.target.local) {
      const host = new Set(ctx.local.processes().map((p) => p.pid));
      foreign.push(...R.procs.filter((p) => host.has(p.pid) && !foreign.includes(p)));
    }
    if (foreign.length)
      throw new Breach(
        `sees platform/host processes: ${foreign
          .slice(0, 5)
          .map((p) => `${p.pid} ${p.cmd.slice(0, 60)}`)
          .join(' | ')} (${R.procs.length} visible)`,
      );
    if (!R.procs.length) throw new InvalidProbe('the probe saw no process at all (not even itself)');
    return `${R.procs.length} processes visible, all the session's own`;
  }),

  attack(1, 'file-api-dotdot-absolute', async (ctx) => {
    const s = await ctx.attacker();
    await fileApiWorks(ctx, s);
    const n = nonce();
    const deep = '../'.repeat(12);
    const h = ctx.target.local ? ctx.hostFiles : undefined;
    const puts = [
      `../escape-${n}.txt`,
      `..%2fescape-${n}.txt`,
      `%2e%2e/escape-${n}.txt`,
      `a/../../escape-${n}.txt`,
      `a/%2e%2e/%2e%2e/escape-${n}.txt`,
      `%2Ftmp%2Fescape-${n}.txt`,
      `/tmp/escape-${n}.txt`,
      `..\\escape-${n}.txt`,
      ...(h ? [`${deep}${h.writeTarget.slice(1)}`, `%2F${h.writeTarget.slice(1)}`] : []),
    ];
    const gets = [
      `${deep}etc/hostname`,
      `%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/hostname`,
      `%2Fetc%2Fhostname`,
      `/etc/hostname`,
      ...(h ? [`${deep}${h.file.slice(1)}`, `%2F${h.file.slice(1)}`] : []),
    ];
    const dels = h ? [`${deep}${h.deleteTarget.slice(1)}`, `%2F${h.deleteTarget.slice(1)}`] : [`${deep}tmp`];
    const bad: string[] = [];
    for (const p of puts) {
      const r = await ctx.a.rawPath('PUT', filesPath(s, p), Buffer.from(`escaped-${n}`));
      if (!refused(r.status)) bad.push(`PUT ${p} → ${r.status}`);
    }
    for (const p of gets) {
      const r = await ctx.a.rawPath('GET', filesPath(s, p));
      if (!refused(r.status)) bad.push(`GET ${p} → ${r.status} ${r.body.toString().slice(0, 40)}`);
    }
    for (const p of dels) {
      const r = await ctx.a.rawPath('DELETE', filesPath(s, p));
      if (!refused(r.status)) bad.push(`DELETE ${p} → ${r.status}`);
    }
    if (h) {
      if (readFileSync(h.writeTarget, 'utf8') !== h.writeContent) bad.push('the host write canary changed');
      if (!existsSync(h.deleteTarget)) bad.push('the host delete canary is gone');
      if (readdirSync(h.dir).some((f) => f.includes(n))) bad.push('a file appeared in the host canary dir');
    }
    if (bad.length) throw new Breach(bad.join('; '));
    return `${puts.length + gets.length + dels.length} escaping paths refused (400/404)`;
  }),

  attack(1, 'file-api-symlink-get', async (ctx) => {
    const s = await ctx.attacker();
    await fileApiWorks(ctx, s);
    const t = outTargets(ctx);
    const n = nonce();
    await makeLinks(ctx, s, {
      [`out-file-${n}`]: t.file,
      [`out-dir-${n}`]: t.dir,
      [`out-rel-${n}`]: `${'../'.repeat(12)}${t.file.slice(1)}`,
      [`sub-${n}/out-file`]: t.file,
    });
    const bad: string[] = [];
    for (const p of [
      `out-file-${n}`,
      `out-dir-${n}/${basename(t.file)}`,
      `out-rel-${n}`,
      `sub-${n}/out-file`,
    ]) {
      const r = await ctx.a.rawPath('GET', filesPath(s, p));
      if (!refused(r.status) || (t.content && r.body.toString().includes(t.content.trim())))
        bad.push(`GET ${p} → ${r.status} ${r.body.toString().slice(0, 40)}`);
    }
    if (bad.length) throw new Breach(bad.join('; '));
    return 'reads through symlinks out of the workspace refused';
  }),

  attack(1, 'file-api-symlink-put', async (ctx) => {
    const s = await ctx.attacker();
    await fileApiWorks(ctx, s);
    const n = nonce();
    const h = ctx.target.local ? ctx.hostFiles : undefined;
    await makeLinks(ctx, s, {
      [`out-wfile-${n}`]: h ? h.writeTarget : `/tmp/put-through-${n}`,
      [`out-wdir-${n}`]: h ? h.dir : '/tmp',
    });
    const bad: string[] = [];
    const viaDir = await ctx.a.rawPath(
      'PUT',
      filesPath(s, `out-wdir-${n}/new-${n}.txt`),
      Buffer.from(`x-${n}`),
    );
    if (!refused(viaDir.status)) bad.push(`PUT through a directory symlink → ${viaDir.status}`);
    const viaFile = await ctx.a.rawPath(
      'PUT',
      filesPath(s, `out-wfile-${n}`),
      Buffer.from(`overwritten-${n}`),
    );
    if (viaFile.status === 204) {
      // allowed only if the link itself was replaced by a regular file in the workspace
      const { R } = await ctx.py<{ islink: boolean; content: Attempt }>(
        s,
        `R["islink"] = os.path.islink(P["name"])
R["content"] = attempt(lambda: read(P["name"]))`,
        { name: `out-wfile-${n}` },
      );
      if (R.islink) bad.push('PUT on a symlink wrote through it (the link is still there)');
    } else if (!refused(viaFile.status)) bad.push(`PUT on a file symlink → ${viaFile.status}`);
    if (h) {
      if (readFileSync(h.writeTarget, 'utf8') !== h.writeContent)
        bad.push('the host write canary was overwritten');
      if (readdirSync(h.dir).some((f) => f.includes(n)))
        bad.push('a file was created in the host canary dir');
    }
    if (bad.length) throw new Breach(bad.join('; '));
    return `directory link refused (${viaDir.status}); file link ${viaFile.status === 204 ? 'replaced, not followed' : `refused (${viaFile.status})`}`;
  }),

  attack(
    1,
    'file-api-symlink-delete',
    async (ctx) => {
      const s = await ctx.attacker();
      await fileApiWorks(ctx, s);
      const h = ctx.hostFiles;
      const n = nonce();
      await makeLinks(ctx, s, { [`out-ddir-${n}`]: h.dir, [`out-dfile-${n}`]: h.deleteTarget });
      const bad: string[] = [];
      const viaDir = await ctx.a.rawPath('DELETE', filesPath(s, `out-ddir-${n}/${basename(h.deleteTarget)}`));
      if (!refused(viaDir.status)) bad.push(`DELETE through a directory symlink → ${viaDir.status}`);
      await ctx.a.rawPath('DELETE', filesPath(s, `out-dfile-${n}`));
      await ctx.a.rawPath('DELETE', filesPath(s, `out-ddir-${n}`));
      if (!existsSync(h.deleteTarget)) bad.push('the host delete canary was removed');
      if (!existsSync(h.file)) bad.push('the host canary dir was emptied');
      if (bad.length) throw new Breach(bad.join('; '));
      return `delete through a directory link refused (${viaDir.status}); host files intact`;
    },
    { local: true },
  ),

  attack(1, 'file-api-list-symlinks', async (ctx) => {
    const s = await ctx.attacker();
    const n = nonce();
    const t = outTargets(ctx);
    await makeLinks(ctx, s, { [`rootlink-${n}`]: '/', [`out-ldir-${n}`]: t.dir });
    const put = await ctx.a.request('PUT', filesPath(s, `listed-${n}.txt`), undefined, {
      raw: Buffer.from('x'),
    });
    const r = await ctx.a.request<{ items: Array<{ path: string }> }>('GET', `/v1/sessions/${s.id}/files`);
    if (put.status !== 204 || r.status !== 200) throw new InvalidProbe(`control: list HTTP ${r.status}`);
    const paths = r.body.items.map((i) => i.path);
    if (!paths.includes(`listed-${n}.txt`))
      throw new InvalidProbe('control: the listing misses a plain file');
    const out = paths.filter((p) => p.startsWith(`rootlink-${n}/`) || p.startsWith(`out-ldir-${n}/`));
    if (out.length) throw new Breach(`the listing follows links out: ${out.slice(0, 5).join(', ')}`);
    return `${paths.length} entries, none behind a link out`;
  }),

  attack(1, 'file-api-symlink-race-get', async (ctx) => {
    const s = await ctx.attacker();
    await fileApiWorks(ctx, s);
    const t = outTargets(ctx);
    const n = nonce();
    const safe = `SAFE-${n}`;
    await startFlipper(ctx, s, n, [{ name: `flip-${n}`, target: t.file, safe }], 8);
    const deadline = Date.now() + 6000;
    let safeReads = 0;
    let refusedReads = 0;
    const leaks: string[] = [];
    while (Date.now() < deadline) {
      const rs = await Promise.all(
        [0, 1, 2].map(() =>
          ctx.a.request('GET', filesPath(s, `flip-${n}`), undefined, { timeoutMs: 10_000 }),
        ),
      );
      for (const r of rs) {
        const body = r.raw.toString();
        if (r.status === 200 && body === safe) safeReads++;
        else if (r.status === 200) leaks.push(body.slice(0, 60));
        else refusedReads++;
      }
    }
    const flips = await flipperDone(ctx, s, n);
    if (leaks.length) throw new Breach(`a read followed the flipped link: ${leaks[0]} (${leaks.length}×)`);
    if (safeReads === 0)
      throw new InvalidProbe(
        `the race was not exercised: no read saw the regular file (${refusedReads} refused)`,
      );
    return `${safeReads + refusedReads} reads during ${flips} flips: ${safeReads} plain, ${refusedReads} refused, none followed the link`;
  }),

  attack(
    1,
    'file-api-symlink-race-put',
    async (ctx) => {
      const s = await ctx.attacker();
      await fileApiWorks(ctx, s);
      const h = ctx.hostFiles;
      const n = nonce();
      await startFlipper(
        ctx,
        s,
        n,
        [
          { name: `wflip-${n}`, target: h.writeTarget, safe: 'safe' },
          { name: `dflip-${n}`, target: h.dir, safe: '', dir: true },
        ],
        8,
      );
      const deadline = Date.now() + 6000;
      let ok = 0;
      let other = 0;
      while (Date.now() < deadline) {
        const rs = await Promise.all([
          ctx.a.request('PUT', filesPath(s, `wflip-${n}`), undefined, {
            raw: Buffer.from(`overwritten-${n}`),
          }),
          ctx.a.request('PUT', filesPath(s, `dflip-${n}/planted-${n}.txt`), undefined, {
            raw: Buffer.from(`planted-${n}`),
          }),
        ]);
        for (const r of rs) {
          if (r.status === 204) ok++;
          else other++;
        }
      }
      const flips = await flipperDone(ctx, s, n);
      const bad: string[] = [];
      if (readFileSync(h.writeTarget, 'utf8') !== h.writeContent)
        bad.push('the host write canary was overwritten');
      if (readdirSync(h.dir).some((f) => f.includes(n)))
        bad.push('a file was planted in the host canary dir');
      if (bad.length) throw new Breach(bad.join('; '));
      if (ok === 0)
        throw new InvalidProbe(`the race was not exercised: no write succeeded (${other} refused)`);
      return `${ok + other} writes during ${flips} flips (${ok} accepted, ${other} refused), host files intact`;
    },
    { local: true },
  ),

  attack(1, 'hardlink-host-files', async (ctx) => {
    const s = await ctx.attacker();
    const targets = ['/etc/passwd', '/usr/bin/python3', ...(ctx.target.local ? [ctx.hostFiles.file] : [])];
    const { R } = await ctx.py<Record<string, Attempt>>(
      s,
      `for i, t in enumerate(P["targets"]):
    name = "hl-%d-%s" % (i, P["n"])
    R[t] = attempt(lambda: os.link(t, name))`,
      { targets, n: nonce() },
    );
    return targets
      .map((t) => {
        const r = R[t];
        if (r?.ok) throw new Breach(`hard link to ${t} made in the workspace`);
        return expectBlocked(t, r, ['EXDEV', 'EPERM', 'EACCES', 'ENOENT', 'EROFS']);
      })
      .join('; ');
  }),

  attack(1, 'file-api-fifo', async (ctx) => {
    const s = await ctx.session();
    const n = nonce();
    const { R } = await ctx.py<{ fifo: Attempt }>(
      s,
      `R["fifo"] = attempt(lambda: os.mkfifo("fifo-" + P["n"]))`,
      { n },
    );
    if (!R.fifo.ok) return expectBlocked('mkfifo', R.fifo, ['EPERM', 'EACCES']);
    const bad: string[] = [];
    const get = await ctx.a.rawPath('GET', filesPath(s, `fifo-${n}`), undefined, 10_000);
    if (get.timedOut) bad.push('GET of a FIFO hangs');
    else if (get.status === 200) bad.push('GET of a FIFO answered 200');
    const put = await ctx.a.rawPath('PUT', filesPath(s, `fifo-${n}`), Buffer.from('x'), 10_000);
    if (put.timedOut) bad.push('PUT onto a FIFO hangs');
    const list = await ctx.a.rawPath('GET', `/v1/sessions/${s.id}/files`, undefined, 10_000);
    if (list.timedOut) bad.push('listing a workspace with a FIFO hangs');
    const after = await ctx.a
      .request('POST', `/v1/sessions/${s.id}/executions`, { code: 'print(1)' }, { timeoutMs: 15_000 })
      .catch(() => undefined);
    if (!after || after.status !== 200) bad.push('the session stopped answering');
    if (bad.length) {
      // unblock a stuck executor (a reader/writer on the other end) so that the rest of the run goes on
      const host = ctx.target.local ? findHostFile(ctx, `fifo-${n}`) : undefined;
      if (host) await unblockFifo(host);
      throw new Breach(bad.join('; '));
    }
    return `GET ${get.status}, PUT ${put.status}, list ${list.status}: answered at once, session alive`;
  }),

  attack(1, 'device-nodes', async (ctx) => {
    const s = await ctx.attacker();
    const { R } = await ctx.py<Record<string, Attempt>>(
      s,
      `import stat
R["mknod"] = attempt(lambda: os.mknod("devnull-" + P["n"], stat.S_IFCHR | 0o666, os.makedev(1, 3)))
R["mknod_blk"] = attempt(lambda: os.mknod("vda-" + P["n"], stat.S_IFBLK | 0o666, os.makedev(253, 0)))
R["dev"] = attempt(lambda: sorted(os.listdir("/dev")))
for d in ("/dev/mem", "/dev/kmem", "/dev/port", "/dev/kmsg", "/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/xvda"):
    R[d] = attempt(lambda: os.open(d, os.O_RDONLY) and "opened")`,
      { n: nonce() },
    );
    const out = [
      expectBlocked('mknod c 1 3', R['mknod'], ['EPERM', 'EACCES', 'EROFS']),
      expectBlocked('mknod b', R['mknod_blk'], ['EPERM', 'EACCES', 'EROFS']),
    ];
    for (const d of [
      '/dev/mem',
      '/dev/kmem',
      '/dev/port',
      '/dev/kmsg',
      '/dev/vda',
      '/dev/sda',
      '/dev/nvme0n1',
      '/dev/xvda',
    ])
      out.push(expectBlocked(d, R[d], ['ENOENT', 'EACCES', 'EPERM']));
    const dev = (R['dev']?.value ?? []) as string[];
    const host = dev.filter((d) => /^(vd|sd|nvme|xvd|hd|loop|dm-|mapper|kvm|fuse|mem$|kmsg$|tty\d)/.test(d));
    if (host.length) throw new Breach(`the host's /dev is visible: ${host.slice(0, 8).join(', ')}`);
    return `${out.length} device probes blocked; /dev has ${dev.length} entries`;
  }),

  attack(1, 'file-api-device-symlink', async (ctx) => {
    const s = await ctx.session();
    const n = nonce();
    await makeLinks(ctx, s, { [`zero-${n}`]: '/dev/zero', [`urandom-${n}`]: '/dev/urandom' });
    const bad: string[] = [];
    for (const name of [`zero-${n}`, `urandom-${n}`]) {
      const r = await ctx.a.rawPath('GET', filesPath(s, name), undefined, 15_000);
      if (r.timedOut) bad.push(`GET ${name} hangs (reads the device)`);
      else if (r.status === 200) bad.push(`GET ${name} → 200 (${r.body.length} bytes of the device)`);
    }
    if (bad.length) throw new Breach(bad.join('; '));
    return 'links to devices refused at once';
  }),
];

/** Starts a background process in `s` that flips each name between a plain entry and a link out. */
export async function startFlipper(
  ctx: AttackContext,
  s: Session,
  n: string,
  flips: Array<{ name: string; target: string; safe: string; dir?: boolean }>,
  seconds: number,
  api: Api = ctx.a,
): Promise<void> {
  const script = String.raw`
import os, sys, json, time, shutil
spec = json.loads(sys.argv[1])
deadline = time.time() + spec["seconds"]
count = 0
def clear(p):
    if os.path.islink(p) or (os.path.lexists(p) and not os.path.isdir(p)):
        os.remove(p)
    elif os.path.isdir(p):
        shutil.rmtree(p, ignore_errors=True)
while time.time() < deadline:
    for f in spec["flips"]:
        name, tmp = f["name"], f["name"] + ".tmp"
        try:
            if f.get("dir"):
                clear(name)
                os.symlink(f["target"], name)
                clear(name)
                os.mkdir(name)
            else:
                clear(tmp)
                os.symlink(f["target"], tmp)
                os.replace(tmp, name)
                with open(tmp, "w") as fh:
                    fh.write(f["safe"])
                os.replace(tmp, name)
        except OSError:
            pass
        count += 1
with open("flipper-" + spec["n"] + ".done", "w") as fh:
    fh.write(str(count))
`;
  const { R } = await ctx.py<{ started: Attempt }>(
    s,
    `import subprocess
with open("/tmp/flipper-" + P["n"] + ".py", "w") as f:
    f.write(P["script"])
R["started"] = attempt(lambda: subprocess.Popen([sys.executable, "/tmp/flipper-" + P["n"] + ".py", json.dumps(P["spec"])],
    start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open("/tmp/flipper-" + P["n"] + ".err", "w")).pid)`,
    { n, script, spec: { n, seconds, flips } },
    {},
    api,
  );
  if (!R.started.ok) throw new InvalidProbe(`could not start the flipper: ${show(R.started)}`);
}

/** Waits for the flipper to finish; returns how many flips it made (proves it ran). */
export async function flipperDone(
  ctx: AttackContext,
  s: Session,
  n: string,
  api: Api = ctx.a,
): Promise<number> {
  const { R } = await ctx.py<{ done: Attempt; err: Attempt }>(
    s,
    `deadline = time.time() + 15
while not os.path.exists("flipper-" + P["n"] + ".done") and time.time() < deadline:
    time.sleep(0.1)
R["done"] = attempt(lambda: int(read("flipper-" + P["n"] + ".done")))
R["err"] = attempt(lambda: read("/tmp/flipper-" + P["n"] + ".err"))`,
    { n },
    {},
    api,
  );
  if (!R.done.ok) throw new InvalidProbe(`the flipper did not finish: ${show(R.done)} ${show(R.err)}`);
  const flips = Number(R.done.value);
  if (flips < 50) throw new InvalidProbe(`the flipper made only ${flips} flips`);
  return flips;
}

async function unblockFifo(path: string): Promise<void> {
  const { open, constants } = await import('node:fs/promises');
  for (const flags of [constants.O_RDONLY | constants.O_NONBLOCK]) {
    const fh = await open(path, flags).catch(() => undefined);
    setTimeout(() => void fh?.close(), 2000);
  }
  const w = await open(path, constants.O_WRONLY | constants.O_NONBLOCK).catch(() => undefined);
  await w?.close();
}
