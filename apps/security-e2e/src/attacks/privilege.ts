// Invariant 6 (least privilege): no credential reaches session code; each component has its own
// Redis ACL user (the executor's can touch only its pod's keys); persistence's internal API is
// authenticated or bound to loopback; the executor re-checks the tenant of every job.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { JobRpcClient, PodJobDefs, podQueueName } from '@executor/queues';
import type { AttackContext } from '../driver/context';
import { Breach, InvalidProbe, expectBlocked, nonce, show, type Attempt } from '../driver/probe';
import type { PlatformProcess } from '../driver/target';
import { attack, type Attack } from './types';

const CREDENTIAL_NAME =
  /REDIS|EXECUTOR_API|EXECUTOR_ADMIN|API_KEY|ADMIN_KEY|PASSWORD|PASSWD|TOKEN|SECRET|KUBERNETES_SERVICE|AWS_|PERSISTENCE_/i;

/** Every credential the test knows of (keys, Redis URLs with passwords, tokens in env). */
export function knownSecrets(ctx: AttackContext): string[] {
  const out = new Set<string>([ctx.target.tenantKey, ctx.target.otherTenantKey]);
  if (ctx.target.adminKey) out.add(ctx.target.adminKey);
  if (ctx.target.local) {
    for (const p of ctx.local.processes()) {
      for (const [k, v] of Object.entries(p.env)) {
        if (k === 'REDIS_URL') {
          try {
            const u = new URL(v);
            if (u.password) out.add(decodeURIComponent(u.password));
          } catch {
            // not a URL
          }
        }
        if (/KEYS$/.test(k)) for (const e of v.split(',')) out.add(e.split(':').slice(1).join(':'));
        if (/PASSWORD|TOKEN|SECRET/.test(k) && v) out.add(v);
      }
    }
  }
  return [...out].filter((s) => s && s.length >= 8);
}

function leaked(ctx: AttackContext, text: string): string[] {
  return knownSecrets(ctx)
    .filter((s) => text.includes(s))
    .map((s) => `${s.slice(0, 4)}…`);
}

function redisUrlOf(p: PlatformProcess | undefined): string {
  const url = p?.env['REDIS_URL'];
  if (!url) throw new InvalidProbe(`no REDIS_URL for ${p?.role ?? 'the component'}`);
  return url;
}

async function redisTry(r: Redis, args: [string, ...Array<string | number>]): Promise<Attempt> {
  try {
    const v = await r.call(...args);
    return { ok: true, value: JSON.stringify(v).slice(0, 100) };
  } catch (err) {
    const msg = (err as Error).message;
    return { ok: false, errno: msg.split(' ')[0] ?? msg, msg };
  }
}

function listenInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1] as string);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/** Listening addresses (hex from /proc/net/tcp{,6}) of a process's sockets. */
function listenAddrs(pid: number): string[] {
  const inodes = listenInodes(pid);
  const out: string[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(f, 'utf8').split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length < 10 || c[3] !== '0A' || !inodes.has(c[9] as string)) continue;
      out.push(c[1] as string);
    }
  }
  return out;
}

const LOOPBACK_HEX = /^(0100007F|0{24}01000000|0{32}(?=:)|0000000000000000FFFF00000100007F):/i;

export const privilegeAttacks: Attack[] = [
  attack(6, 'session-env-credentials', async (ctx) => {
    const s = await ctx.attacker();
    const { R, exec } = await ctx.py<{ env: Record<string, string> }>(s, `R["env"] = dict(os.environ)`);
    const names = Object.keys(R.env).filter((k) => CREDENTIAL_NAME.test(k));
    if (names.length) throw new Breach(`credential-like variables in the session env: ${names.join(', ')}`);
    const l = leaked(ctx, exec.stdout);
    if (l.length) throw new Breach(`the session env holds platform credentials (${l.join(', ')})`);
    return `${Object.keys(R.env).length} variables, no credential`;
  }),

  attack(6, 'proc-credentials', async (ctx) => {
    const s = await ctx.attacker();
    const { R, exec } = await ctx.py<{ seen: number; hits: string[] }>(
      s,
      `R["seen"], R["hits"] = 0, []
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    for f in ("environ", "cmdline"):
        r = attempt(lambda: read("/proc/%s/%s" % (pid, f), 1 << 20))
        if r["ok"]:
            R["seen"] += 1
            for entry in r["value"].split("\\0"):
                if any(w in entry.upper() for w in ("REDIS", "EXECUTOR_API", "EXECUTOR_ADMIN", "PASSWORD", "TOKEN")):
                    R["hits"].append("%s/%s: %s" % (pid, f, entry[:200]))`,
    );
    const l = leaked(ctx, exec.stdout);
    if (l.length || R.hits.length)
      throw new Breach(`credentials in /proc: ${[...R.hits.slice(0, 3), ...l].join(' | ')}`);
    if (!R.seen) throw new InvalidProbe('the probe could read no /proc/<pid> file at all (not even its own)');
    return `${R.seen} /proc files readable, no credential in them`;
  }),

  attack(
    6,
    'credential-files',
    async (ctx) => {
      const { dataDir } = ctx.local;
      const files: string[] = [];
      const walk = (d: string, depth: number): void => {
        for (const e of readdirSync(d)) {
          const p = join(d, e);
          if (p.startsWith(join(dataDir, 'workspaces'))) continue;
          const st = statSync(p);
          if (st.isDirectory() && depth > 0) walk(p, depth - 1);
          else if (st.isFile()) files.push(p);
        }
      };
      walk(dataDir, 3);
      for (const p of ctx.local.processes().filter((x) => x.role === 'redis')) {
        const i = p.cmdline.indexOf('--aclfile');
        if (i >= 0 && p.cmdline[i + 1]) files.push(p.cmdline[i + 1] as string);
      }
      if (!files.length) throw new InvalidProbe('control: the data dir holds no file');
      const s = await ctx.attacker();
      const { R } = await ctx.py<Record<string, Attempt>>(
        s,
        `for f in P["files"]:
    R[f] = attempt(lambda: read(f, 256))`,
        { files },
      );
      return `${files.length} platform files (keys, ACLs, AOF, logs): ${
        files
          .map((f) => expectBlocked(f, R[f], ['ENOENT', 'EACCES', 'EPERM', 'ENOTDIR']))
          .filter((x, i, a) => a.indexOf(x) === i).length
      } refused`;
    },
    { local: true },
  ),

  attack(
    6,
    'redis-requires-password',
    async (ctx) => {
      const lb = ctx.local.processes().find((p) => p.role === 'load-balancer');
      const authed = new Redis(redisUrlOf(lb), { lazyConnect: true, maxRetriesPerRequest: 0 });
      const anon = new Redis({
        host: '127.0.0.1',
        port: ctx.local.ports.redis,
        lazyConnect: true,
        maxRetriesPerRequest: 0,
      });
      try {
        await authed.connect();
        const control = await redisTry(authed, ['PING']);
        if (!control.ok)
          throw new InvalidProbe(`control: the load balancer's credentials cannot PING: ${control.msg}`);
        await anon.connect().catch(() => undefined);
        const r = await redisTry(anon, ['PING']);
        if (r.ok) throw new Breach('Redis answers PING without credentials');
        const keys = await redisTry(anon, ['KEYS', '*']);
        if (keys.ok) throw new Breach('Redis lists keys without credentials');
        if (!/NOAUTH|WRONGPASS|NOPERM/.test(r.msg ?? ''))
          throw new InvalidProbe(`unexpected error: ${r.msg}`);
        return `no credentials → ${r.errno}`;
      } finally {
        authed.disconnect();
        anon.disconnect();
      }
    },
    { local: true },
  ),

  attack(
    6,
    'redis-executor-acl',
    async (ctx) => {
      const execs = ctx.local.processes().filter((p) => p.role === 'executor');
      const me = execs[0];
      const other = execs.find((e) => e.env['POD_NAME'] !== me?.env['POD_NAME']);
      if (!me || !other) throw new InvalidProbe('need two executors');
      const prefix = me.env['QUEUE_PREFIX'] ?? 'executor';
      const mine = `${prefix}:${podQueueName(me.env['POD_NAME'] as string)}`;
      const theirs = `${prefix}:${podQueueName(other.env['POD_NAME'] as string)}`;
      const r = new Redis(redisUrlOf(me), { lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await r.connect();
        const control = await redisTry(r, ['EXISTS', `${mine}:meta`]);
        if (!control.ok)
          throw new InvalidProbe(
            `control: the executor's credentials cannot read its own queue: ${control.msg}`,
          );
        const n = nonce();
        const tries: Record<string, [string, ...Array<string | number>]> = {
          "read another pod's queue meta": ['HGETALL', `${theirs}:meta`],
          "list another pod's waiting jobs": ['LRANGE', `${theirs}:wait`, 0, -1],
          "write into another pod's queue": ['SET', `${theirs}:sec-e2e-${n}`, 'x'],
          "read the load balancer's session store": ['KEYS', `${prefix}:lb:*`],
          'scan every key': ['SCAN', 0, 'COUNT', 1000],
          'read the server config': ['CONFIG', 'GET', 'maxmemory'],
          'list ACL users': ['ACL', 'LIST'],
        };
        const out: string[] = [];
        const breaches: string[] = [];
        for (const [what, args] of Object.entries(tries)) {
          const a = await redisTry(r, args);
          if (a.ok) breaches.push(`${what}: ${show(a)}`);
          else if (!/NOPERM|NOAUTH/.test(a.msg ?? '')) breaches.push(`${what}: ${a.msg}`);
          else out.push(`${what}: NOPERM`);
        }
        await r.call('DEL', `${theirs}:sec-e2e-${n}`).catch(() => undefined);
        if (breaches.length) throw new Breach(breaches.join('; '));
        return out.join('; ');
      } finally {
        r.disconnect();
      }
    },
    { local: true },
  ),

  attack(
    6,
    'persistence-internal-api',
    async (ctx) => {
      const p = ctx.local.processes().find((x) => x.role === 'persistence');
      if (!p) throw new InvalidProbe('no persistence process');
      const addrs = listenAddrs(p.pid);
      if (!addrs.length) throw new InvalidProbe('control: persistence listens on nothing the test can see');
      const loopbackOnly = addrs.every((a) => LOOPBACK_HEX.test(a));
      const r = await fetch(`http://127.0.0.1:${ctx.local.ports.persistence}/internal/stats`);
      const authed = r.status === 401 || r.status === 403;
      if (!loopbackOnly && !authed)
        throw new Breach(
          `persistence's internal API answers ${r.status} without a token on ${addrs.join(', ')}`,
        );
      return `${loopbackOnly ? 'bound to loopback only' : 'bound beyond loopback'}; unauthenticated /internal/stats → ${r.status}`;
    },
    { local: true },
  ),

  attack(
    6,
    'executor-rechecks-tenant',
    async (ctx) => {
      const s = await ctx.session();
      const n = nonce();
      const put = await ctx.a.request('PUT', `/v1/sessions/${s.id}/files/owned.txt`, undefined, {
        raw: Buffer.from(`owned-${n}`),
      });
      if (put.status !== 204) throw new InvalidProbe(`control: PUT → ${put.status}`);
      const lb = ctx.local.processes().find((p) => p.role === 'load-balancer');
      const client = new JobRpcClient({
        redisUrl: redisUrlOf(lb),
        prefix: lb?.env['QUEUE_PREFIX'] ?? 'executor',
      });
      try {
        const forged = await client
          .call(
            podQueueName(s.pod),
            PodJobDefs.filesGet,
            { sessionId: s.id, tenant: 'globex', path: 'owned.txt' },
            { timeoutMs: 15_000 },
          )
          .then(
            (v) => ({ ok: true as const, v }),
            (e: Error & { code?: string }) => ({ ok: false as const, code: e.code ?? e.message }),
          );
        if (forged.ok) throw new Breach("the executor served a job whose tenant is not the session's");
        const own = await client
          .call(
            podQueueName(s.pod),
            PodJobDefs.filesList,
            { sessionId: s.id, tenant: 'acme' },
            { timeoutMs: 15_000 },
          )
          .then(
            () => 'ok',
            (e: Error) => e.message,
          );
        if (own !== 'ok') throw new InvalidProbe(`control: the correct tenant's job failed: ${own}`);
        return `forged tenant → ${forged.code}; the right tenant's job is served`;
      } finally {
        await client.close();
      }
    },
    { local: true },
  ),
];

/** Last: no probe output of the whole run contained a credential the test knows. */
export const credentialScan: Attack = attack(6, 'no-credential-in-any-output', async (ctx) => {
  const all = ctx.outputs.join('\n');
  if (ctx.outputs.length < 10)
    throw new InvalidProbe(`only ${ctx.outputs.length} probe outputs were recorded`);
  const l = leaked(ctx, all);
  if (l.length) throw new Breach(`probe outputs contain credentials: ${l.join(', ')}`);
  return `${ctx.outputs.length} probe outputs (${(all.length / 1024).toFixed(0)} KiB) hold none of ${knownSecrets(ctx).length} known credentials`;
});
