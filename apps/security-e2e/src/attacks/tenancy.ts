// Invariant 5 (tenancy and roles): tenant keys act only on their own sessions (another tenant gets
// the same 404 as for a session that does not exist); admin keys alone manage pools and open the
// admin UI, which redacts env values and code; keys are long and compared in constant time.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Api, ApiResponse, Session } from '../driver/api';
import type { AttackContext } from '../driver/context';
import { Breach, InvalidProbe, nonce } from '../driver/probe';
import { attack, type Attack } from './types';

interface Victim {
  s: Session;
  marker: string;
}

let shared: Victim | undefined;

/** A session of tenant A with a file, an execution in its history and a secret env value. */
async function victim(ctx: AttackContext): Promise<Victim> {
  if (shared) return shared;
  const marker = nonce();
  const s = ctx.keep(await ctx.session({ env: { VICTIM_SECRET: `secret-${marker}` } }));
  await ctx.a.execute(s.id, `print("history-${marker}")`);
  const put = await ctx.a.request('PUT', `/v1/sessions/${s.id}/files/victim.txt`, undefined, {
    raw: Buffer.from(`file-${marker}`),
  });
  if (put.status !== 204) throw new InvalidProbe(`control: victim file PUT → ${put.status}`);
  shared = { s, marker };
  return shared;
}

/** Tenant B's request must look exactly like one for a session that does not exist. */
function expect404(
  what: string,
  r: ApiResponse<{ error?: { code?: string } }>,
  ghost: ApiResponse<{ error?: { code?: string } }>,
): void {
  if (r.status !== 404 || r.body?.error?.code !== 'not_found')
    throw new Breach(`${what}: another tenant got HTTP ${r.status} ${r.raw.toString().slice(0, 120)}`);
  if (ghost.status !== 404 || JSON.stringify(ghost.body?.error?.code) !== JSON.stringify(r.body?.error?.code))
    throw new Breach(
      `${what}: differs from a non-existent session (${ghost.status} vs ${r.status}): an oracle`,
    );
}

function crossTenant(
  what: string,
  method: string,
  path: (id: string) => string,
  body: unknown,
  opts: {
    raw?: Buffer;
    control: number;
    /** The owner's control request, when it is not the same request (e.g. DELETE → GET). */
    controlMethod?: string;
    /** The owner's control body, when it must differ (the intruder's code must never run). */
    controlBody?: unknown;
    after?: (ctx: AttackContext, v: Victim) => Promise<void>;
  },
): Attack {
  return attack(5, `cross-tenant-${what}`, async (ctx) => {
    const v = await victim(ctx);
    const send = (api: Api, id: string): Promise<ApiResponse<{ error?: { code?: string } }>> =>
      api.request(method, path(id), body, opts.raw ? { raw: opts.raw } : {});
    const r = await send(ctx.b, v.s.id);
    const ghost = await send(ctx.b, `${v.s.id.slice(0, -4)}0000`);
    expect404(`${method} ${path(':id')}`, r, ghost);
    await opts.after?.(ctx, v);
    // positive control: the owner's identical request works
    const own = opts.controlMethod
      ? await ctx.a.request(opts.controlMethod, path(v.s.id))
      : opts.controlBody !== undefined
        ? await ctx.a.request(method, path(v.s.id), opts.controlBody)
        : await send(ctx.a, v.s.id);
    if (own.status !== opts.control)
      throw new InvalidProbe(
        `control: the owner's ${method} got ${own.status}, expected ${opts.control}: ${own.raw.toString().slice(0, 200)}`,
      );
    return `404 not_found, same as a missing session (owner: ${own.status})`;
  });
}

async function stillThere(ctx: AttackContext, v: Victim): Promise<void> {
  const r = await ctx.a.request('GET', `/v1/sessions/${v.s.id}/files/victim.txt`);
  if (r.status !== 200 || r.raw.toString() !== `file-${v.marker}`)
    throw new Breach(`the other tenant's request changed the victim (file GET ${r.status})`);
  const hist = await ctx.a.request<{ items: Array<{ code: string }> }>(
    'GET',
    `/v1/sessions/${v.s.id}/executions`,
  );
  if (hist.body?.items?.some((i) => i.code.includes('intruder')))
    throw new Breach("the other tenant's code ran in the victim session");
}

export const tenancyAttacks: Attack[] = [
  crossTenant('get-session', 'GET', (id) => `/v1/sessions/${id}`, undefined, { control: 200 }),
  crossTenant('patch-session', 'PATCH', (id) => `/v1/sessions/${id}`, { ttlSeconds: 600 }, { control: 200 }),
  crossTenant(
    'execute',
    'POST',
    (id) => `/v1/sessions/${id}/executions`,
    { code: 'print("intruder")' },
    {
      control: 200,
      controlBody: { code: 'print("owner")' },
      after: stillThere,
    },
  ),
  crossTenant('history', 'GET', (id) => `/v1/sessions/${id}/executions`, undefined, { control: 200 }),
  crossTenant('persist', 'POST', (id) => `/v1/sessions/${id}/persist`, undefined, { control: 200 }),
  crossTenant(
    'packages-install',
    'POST',
    (id) => `/v1/sessions/${id}/packages`,
    { packages: ['sec-e2e-none'] },
    { control: 400 },
  ),
  crossTenant('packages-list', 'GET', (id) => `/v1/sessions/${id}/packages`, undefined, { control: 200 }),
  crossTenant('files-put', 'PUT', (id) => `/v1/sessions/${id}/files/victim.txt`, undefined, {
    raw: Buffer.from('intruder'),
    control: 200,
    controlMethod: 'GET',
    after: stillThere,
  }),
  crossTenant('files-get', 'GET', (id) => `/v1/sessions/${id}/files/victim.txt`, undefined, { control: 200 }),
  crossTenant('files-list', 'GET', (id) => `/v1/sessions/${id}/files`, undefined, { control: 200 }),
  crossTenant('files-delete', 'DELETE', (id) => `/v1/sessions/${id}/files/victim.txt`, undefined, {
    control: 200,
    controlMethod: 'GET',
    after: stillThere,
  }),
  crossTenant('delete-session', 'DELETE', (id) => `/v1/sessions/${id}`, undefined, {
    control: 200,
    controlMethod: 'GET',
    after: async (ctx, v) => {
      await stillThere(ctx, v);
    },
  }),

  attack(5, 'cross-tenant-list-sessions', async (ctx) => {
    const v = await victim(ctx);
    const mine = await ctx.a.request<{ items: Session[] }>('GET', '/v1/sessions');
    if (!mine.body.items.some((s) => s.id === v.s.id))
      throw new InvalidProbe("control: the owner's list misses its session");
    const other = await ctx.b.request<{ items: Session[] }>('GET', '/v1/sessions');
    if (other.status !== 200) throw new InvalidProbe(`GET /v1/sessions as tenant B → ${other.status}`);
    if (other.body.items.some((s) => s.id === v.s.id))
      throw new Breach("another tenant's list shows the session");
    return `tenant B lists ${other.body.items.length} sessions, none of tenant A`;
  }),

  attack(5, 'tenant-key-pools-post', async (ctx) => {
    const name = `sec-e2e-${nonce()}`;
    const r = await ctx.a.request('POST', '/v1/pools', { name, template: ctx.target.pythonTemplate });
    if (r.status === 201 || r.status === 200 || r.status === 409) {
      await (ctx.admin ?? ctx.a).request('DELETE', `/v1/pools/${name}`);
      throw new Breach(`a tenant key registered a pool (HTTP ${r.status})`);
    }
    if (r.status !== 403) throw new Breach(`tenant POST /v1/pools → ${r.status}, expected 403`);
    if (!ctx.admin) throw new InvalidProbe('no admin key: cannot prove an admin could');
    const ok = await ctx.admin.request('POST', '/v1/pools', { name, template: ctx.target.pythonTemplate });
    await ctx.admin.request('DELETE', `/v1/pools/${name}`);
    if (ok.status !== 201) throw new InvalidProbe(`control: the admin key's POST /v1/pools → ${ok.status}`);
    return 'tenant 403, admin 201';
  }),

  attack(5, 'tenant-key-pools-delete', async (ctx) => {
    const name = `sec-e2e-${nonce()}`;
    if (!ctx.admin) throw new InvalidProbe('no admin key: cannot make a pool to attack');
    const made = await ctx.admin.request('POST', '/v1/pools', { name, template: ctx.target.pythonTemplate });
    if (made.status !== 201)
      throw new InvalidProbe(`control: the admin key's POST /v1/pools → ${made.status}`);
    try {
      const r = await ctx.a.request('DELETE', `/v1/pools/${name}`);
      if (r.status !== 403) throw new Breach(`tenant DELETE /v1/pools/${name} → ${r.status}, expected 403`);
      const still = await ctx.admin.request<{ name: string }>('GET', `/v1/pools/${name}`);
      if (still.status !== 200) throw new Breach('the pool is gone after a tenant DELETE');
      return 'tenant 403, pool still registered';
    } finally {
      await ctx.admin.request('DELETE', `/v1/pools/${name}`);
    }
  }),

  attack(5, 'tenant-key-admin-ui', async (ctx) => {
    const paths = ['/admin/queues', '/admin/queues/api/queues'];
    const bad: string[] = [];
    for (const p of paths) {
      const bearer = await ctx.a.request('GET', p);
      const basic = await ctx.a.request('GET', p, undefined, {
        authorization: `Basic ${Buffer.from(`user:${ctx.target.tenantKey}`).toString('base64')}`,
      });
      const anon = await ctx.a.request('GET', p, undefined, { authorization: null });
      if (bearer.status !== 403) bad.push(`${p} tenant bearer → ${bearer.status}`);
      if (basic.status !== 403) bad.push(`${p} tenant basic → ${basic.status}`);
      if (anon.status !== 401) bad.push(`${p} no key → ${anon.status}`);
    }
    // a write through the UI's API, aimed at a queue that does not exist (never pause real queues)
    const pause = await ctx.a.request('PUT', `/admin/queues/api/queues/sec-e2e-${nonce()}/pause`, {});
    if (pause.status !== 403) bad.push(`tenant PUT …/pause → ${pause.status}`);
    if (bad.length) throw new Breach(bad.join('; '));
    if (!ctx.admin) throw new InvalidProbe('no admin key: cannot prove the admin UI opens for admins');
    const ok = await ctx.admin.request('GET', '/admin/queues/api/queues');
    if (ok.status !== 200) throw new InvalidProbe(`control: the admin key → ${ok.status}`);
    return 'tenant 403 (bearer and basic), anonymous 401, admin 200';
  }),

  attack(
    5,
    'admin-ui-redaction',
    async (ctx) => {
      if (!ctx.admin) throw new InvalidProbe('no admin key');
      const marker = nonce();
      const secret = `redact-me-${marker}`;
      const s = await ctx.session({ env: { ADMIN_UI_SECRET: secret } });
      const queue = `pod-${s.pod}`;
      const running = ctx.a.execute(s.id, `import time\ncode_marker = "code-${marker}"\ntime.sleep(6)`, {
        env: { EXEC_SECRET: secret },
        timeoutMs: 20_000,
      });
      let seen = '';
      const deadline = Date.now() + 5000;
      try {
        while (Date.now() < deadline && !seen) {
          for (const status of ['active', 'waiting', 'completed']) {
            const r = await ctx.admin.request(
              'GET',
              `/admin/queues/api/queues?activeQueue=${queue}&status=${status}&page=1&jobsPerPage=50`,
            );
            if (r.status !== 200) throw new InvalidProbe(`admin API → ${r.status}`);
            const text = r.raw.toString();
            if (text.includes(secret) || text.includes(`code-${marker}`))
              throw new Breach(`the admin UI shows session env values or code (${status} jobs of ${queue})`);
            if (/"name":"(execute|session\.execute|[a-z.]*exec[a-z.]*)"/i.test(text) || text.includes(s.id))
              seen = status;
          }
          if (!seen) await new Promise((r) => setTimeout(r, 200));
        }
      } finally {
        await running.catch(() => undefined);
      }
      if (!seen) throw new InvalidProbe(`control: the admin API never showed the session's job in ${queue}`);
      return `the job is listed (${seen}) without env values or code`;
    },
    { timeoutMs: 60_000 },
  ),

  attack(5, 'pools-hide-other-tenants', async (ctx) => {
    const b = await ctx.session({ api: ctx.b });
    const mine = (await ctx.a.request<{ items: Session[] }>('GET', '/v1/sessions')).body.items.length;
    const view = await ctx.a.request<{
      items: Array<{ name: string; sessions?: number; connections?: number }>;
    }>('GET', '/v1/pools');
    const adminView = ctx.admin
      ? await ctx.admin.request<{ items: Array<{ sessions?: number }> }>('GET', '/v1/pools')
      : undefined;
    if (view.status !== 200) throw new InvalidProbe(`GET /v1/pools → ${view.status}`);
    const total = view.body.items.reduce((n, p) => n + (p.sessions ?? 0), 0);
    await ctx.drop(ctx.b, b.id);
    if (total > mine)
      throw new Breach(
        `GET /v1/pools shows ${total} sessions to a tenant that has ${mine}: other tenants' numbers`,
      );
    const adminTotal = adminView?.body.items.reduce((n, p) => n + (p.sessions ?? 0), 0);
    return `tenant sees ${total} sessions (its own: ${mine}; admin view: ${adminTotal ?? 'n/a'})`;
  }),

  attack(5, 'key-variants-rejected', async (ctx) => {
    const k = ctx.target.tenantKey;
    const variants: Record<string, string | null> = {
      none: null,
      empty: 'Bearer ',
      prefix: `Bearer ${k.slice(0, -1)}`,
      extended: `Bearer ${k}x`,
      'case-flipped': `Bearer ${k.replace(/[a-z]/, (c) => c.toUpperCase())}`,
      'basic-as-user': `Basic ${Buffer.from(`${k}:`).toString('base64')}`,
      'short-8': 'Bearer 12345678',
      'tenant-name': 'Bearer acme',
    };
    const ok = await ctx.a.request('GET', '/v1/sessions');
    if (ok.status !== 200) throw new InvalidProbe(`control: the real key → ${ok.status}`);
    const bad: string[] = [];
    for (const [name, auth] of Object.entries(variants)) {
      if (name === 'case-flipped' && auth === `Bearer ${k}`) continue;
      const r = await ctx.a.request('GET', '/v1/sessions', undefined, { authorization: auth });
      if (r.status !== 401) bad.push(`${name} → ${r.status}`);
    }
    if (bad.length) throw new Breach(bad.join('; '));
    return `${Object.keys(variants).length} near-miss keys → 401`;
  }),

  attack(
    5,
    'short-keys-refused-at-boot',
    async (ctx) => {
      const lb = ctx.local.processes().find((p) => p.role === 'load-balancer');
      if (!lb) throw new InvalidProbe('no load balancer process');
      const bundle = join(ctx.local.rootDir, 'dist/apps/load-balancer/main.js');
      const env = {
        ...lb.env,
        PORT: '0',
        EXECUTOR_API_KEYS: 'short:abcd1234',
        REPLICA_ID: `sec-e2e-${nonce()}`,
      };
      const child = spawn(process.execPath, [bundle], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null | 'listening' | 'timeout'>((resolve) => {
        const t = setTimeout(() => resolve('timeout'), 120_000);
        child.once('exit', (c) => {
          clearTimeout(t);
          resolve(c);
        });
        child.stdout.on('data', () => {
          if (!out.includes('listening on')) return;
          clearTimeout(t);
          resolve('listening');
        });
      });
      if (code === 'timeout') {
        child.kill('SIGKILL');
        throw new InvalidProbe(`the load balancer neither exited nor listened in 120 s: ${out.slice(-300)}`);
      }
      if (code === 'listening') {
        child.kill('SIGKILL');
        throw new Breach('the load balancer starts with an 8-character API key');
      }
      if (code === 0) throw new Breach('the load balancer exited 0 with an 8-character key');
      if (!/EXECUTOR_API_KEYS/.test(out))
        throw new InvalidProbe(`exited ${code} for another reason: ${out.slice(-300)}`);
      return `refused to start (exit ${code}): ${/EXECUTOR_API_KEYS[^\n]*/.exec(out)?.[0]?.slice(0, 100)}`;
    },
    { local: true },
  ),

  attack(
    5,
    'generated-admin-key-strength',
    async (ctx) => {
      const key = ctx.target.adminKey;
      if (!key)
        throw new Breach('npm start printed no admin key and the load balancer has no EXECUTOR_ADMIN_KEYS');
      const bytes = /^[0-9a-f]+$/i.test(key)
        ? key.length / 2
        : (key.replace(/[^A-Za-z0-9_-]/g, '').length * 6) / 8;
      if (bytes < 32) throw new Breach(`the generated admin key carries ~${bytes.toFixed(0)} bytes (< 32)`);
      if (key === ctx.target.tenantKey || key === ctx.target.otherTenantKey)
        throw new Breach('the admin key is a tenant key');
      return `admin key of ~${bytes.toFixed(0)} bytes, distinct from tenant keys`;
    },
    { local: true },
  ),
];
