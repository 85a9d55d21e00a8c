// Invariant 7 (abuse): per-tenant rate limits and quotas answer 429 with Retry-After and
// retryAfterSeconds; JSON bodies are capped at 2 MiB; a retried POST with an Idempotency-Key
// runs once.
import type { ApiResponse, Session } from '../driver/api';
import { Breach, InvalidProbe, nonce } from '../driver/probe';
import { flipperDone, startFlipper } from './files';
import { attack, type Attack } from './types';

const RATE_CAP = Number(process.env['SECURITY_E2E_RATE_CAP'] ?? 3000);
const SESSION_CAP = Number(process.env['SECURITY_E2E_SESSION_CAP'] ?? 60);
const INFLIGHT_CAP = Number(process.env['SECURITY_E2E_INFLIGHT_CAP'] ?? 64);
const INFLIGHT_SESSIONS = Number(process.env['SECURITY_E2E_INFLIGHT_SESSIONS'] ?? 20);

type ErrorBody = { error?: { code?: string; message?: string }; retryAfterSeconds?: number };

/** A proper 429: Retry-After (seconds) header and retryAfterSeconds in the body. */
function check429(what: string, r: ApiResponse<ErrorBody>): string {
  const header = r.headers.get('retry-after');
  const body =
    r.body?.retryAfterSeconds ??
    (r.body?.error as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
  const bad: string[] = [];
  if (!header || !/^\d+$/.test(header)) bad.push(`Retry-After header ${JSON.stringify(header)}`);
  if (typeof body !== 'number') bad.push('no retryAfterSeconds in the body');
  if (r.body?.error?.code !== 'rate_limited') bad.push(`error code ${r.body?.error?.code}`);
  if (bad.length) throw new Breach(`${what}: 429 without ${bad.join(', ')}`);
  return `429 rate_limited, Retry-After ${header}, retryAfterSeconds ${body}`;
}

async function waitOut(r: ApiResponse<unknown>): Promise<void> {
  const s = Number(r.headers.get('retry-after') ?? '1');
  await new Promise((res) => setTimeout(res, Math.min(Number.isFinite(s) ? s : 1, 60) * 1000 + 200));
}

export const abuseAttacks: Attack[] = [
  attack(
    7,
    'tenant-cannot-open-the-circuit',
    async (ctx) => {
      // Tenant B makes its own file operations fail in every way it can (racing links, FIFOs);
      // the pool's circuit breaker must not open for everybody because of it.
      const s = await ctx.session({ api: ctx.b });
      const n = nonce();
      const { R } = await ctx.py<{ fifo: boolean }>(
        s,
        `R["fifo"] = attempt(lambda: os.mkfifo("fifo-" + P["n"]))["ok"]`,
        { n },
        {},
        ctx.b,
      );
      await startFlipper(
        ctx,
        s,
        n,
        [
          { name: `f-${n}`, target: '/tmp', safe: 'x' },
          { name: `d-${n}`, target: '/tmp', safe: '', dir: true },
        ],
        8,
        ctx.b,
      );
      let failures = 0;
      const deadline = Date.now() + 6000;
      while (Date.now() < deadline) {
        const rs = await Promise.all([
          ctx.b.rawPath('PUT', `/v1/sessions/${s.id}/files/f-${n}`, Buffer.from('x'), 8000),
          ctx.b.rawPath('PUT', `/v1/sessions/${s.id}/files/d-${n}/x`, Buffer.from('x'), 8000),
          ctx.b.rawPath('GET', `/v1/sessions/${s.id}/files/d-${n}/x`, undefined, 8000),
          ...(R.fifo ? [ctx.b.rawPath('GET', `/v1/sessions/${s.id}/files/fifo-${n}`, undefined, 3000)] : []),
        ]);
        failures += rs.filter((r) => r.timedOut || r.status >= 500).length;
      }
      await flipperDone(ctx, s, n, ctx.b).catch(() => undefined);
      const pools = await ctx.a.request<{ items: Array<{ template: string; circuit: string }> }>(
        'GET',
        '/v1/pools',
        undefined,
        { no429Retry: true },
      );
      const open = (pools.body?.items ?? []).filter(
        (p) => p.template === s.template && p.circuit !== 'closed',
      );
      const other = await ctx.a.request<Session>(
        'POST',
        '/v1/sessions',
        { template: s.template },
        { no429Retry: true },
      );
      if (other.status === 201) await ctx.a.deleteSession(other.body.id);
      if (open.length || other.status !== 201)
        throw new Breach(
          `one tenant's failing file operations (${failures} 5xx/timeouts) left the ${s.template} circuit ${open.map((p) => p.circuit).join('/') || 'closed'}; the other tenant's POST /v1/sessions → ${other.status}`,
        );
      return `${failures} 5xx/timeouts for tenant B; circuit closed, tenant A still gets sessions`;
    },
    { timeoutMs: 150_000 },
  ),

  attack(
    7,
    'rate-limit',
    async (ctx) => {
      let ok = 0;
      const t0 = Date.now();
      for (let sent = 0; sent < RATE_CAP && Date.now() - t0 < 60_000; sent += 20) {
        const rs = await Promise.all(
          Array.from({ length: 20 }, () =>
            ctx.b.request<ErrorBody>('GET', '/v1/sessions', undefined, { no429Retry: true }),
          ),
        );
        const limited = rs.find((r) => r.status === 429);
        ok += rs.filter((r) => r.status === 200).length;
        if (limited) {
          if (!ok) throw new InvalidProbe('control: no request was served before the limit');
          const detail = check429('GET /v1/sessions', limited);
          const other = await ctx.a.request('GET', '/v1/sessions', undefined, { no429Retry: true });
          await waitOut(limited);
          if (other.status === 429)
            throw new Breach('one tenant exhausting its limit rate-limits another tenant');
          return `${ok} requests served, then ${detail}; the other tenant unaffected`;
        }
      }
      throw new Breach(`no rate limit: ${ok} requests in ${Date.now() - t0} ms all served`);
    },
    { timeoutMs: 180_000 },
  ),

  attack(
    7,
    'session-quota',
    async (ctx) => {
      const made: Session[] = [];
      try {
        for (let i = 0; i < SESSION_CAP; i++) {
          const r = await ctx.b.request<Session & ErrorBody>(
            'POST',
            '/v1/sessions',
            { template: ctx.target.pythonTemplate },
            { no429Retry: true },
          );
          if (r.status === 201) {
            made.push(r.body);
            continue;
          }
          if (r.status === 429) {
            if (r.body?.error?.code !== 'rate_limited' && !r.headers.get('retry-after'))
              throw new Breach('429 without Retry-After');
            if (!made.length) throw new InvalidProbe('control: not a single session was created');
            return `${made.length} sessions, then ${check429('POST /v1/sessions', r)}`;
          }
          // capacity ran out first: can the other tenant still get a session?
          const other = await ctx.a.request<Session>(
            'POST',
            '/v1/sessions',
            { template: ctx.target.pythonTemplate },
            { no429Retry: true },
          );
          if (other.status === 201) await ctx.a.deleteSession(other.body.id);
          throw new Breach(
            `no session quota before HTTP ${r.status} (${r.body?.error?.code}) after ${made.length} sessions; the other tenant then gets ${other.status}${other.status === 201 ? '' : ' (one tenant holds all capacity)'}`,
          );
        }
        throw new Breach(`no session quota: ${made.length} sessions created`);
      } finally {
        for (const s of made) await ctx.b.deleteSession(s.id).catch(() => undefined);
      }
    },
    { timeoutMs: 300_000 },
  ),

  attack(
    7,
    'executions-in-flight-quota',
    async (ctx) => {
      const sessions: Session[] = [];
      try {
        // enough sessions that running executions (one per session at a time) exceed any sane
        // per-tenant quota too, not only queued ones; bounded by what the pools hold
        for (let i = 0; i < INFLIGHT_SESSIONS; i++) {
          const r = await ctx.b.request<Session>(
            'POST',
            '/v1/sessions',
            { template: ctx.target.pythonTemplate },
            { no429Retry: true },
          );
          if (r.status !== 201) break;
          sessions.push(r.body);
        }
        if (sessions.length < 2)
          throw new InvalidProbe(`control: only ${sessions.length} sessions could be opened`);
        const calls = Array.from({ length: INFLIGHT_CAP }, (_, i) =>
          ctx.b.request<ErrorBody>(
            'POST',
            `/v1/sessions/${(sessions[i % sessions.length] as Session).id}/executions`,
            { code: 'import time\ntime.sleep(2)', timeoutMs: 120_000 },
            { no429Retry: true, timeoutMs: 300_000 },
          ),
        );
        const rs = await Promise.all(calls);
        const limited = rs.find((r) => r.status === 429);
        const served = rs.filter((r) => r.status === 200).length;
        if (!limited)
          throw new Breach(
            `no in-flight quota: ${served} of ${INFLIGHT_CAP} concurrent executions over ${sessions.length} sessions accepted`,
          );
        if (!served) throw new InvalidProbe('control: no execution was served');
        return `${served} served, ${rs.filter((r) => r.status === 429).length} refused: ${check429('POST executions', limited)}`;
      } finally {
        for (const s of sessions) await ctx.b.deleteSession(s.id).catch(() => undefined);
      }
    },
    { timeoutMs: 600_000 },
  ),

  attack(7, 'json-body-over-2mib', async (ctx) => {
    const ok = await ctx.a.request('POST', '/v1/sessions', {
      template: ctx.target.pythonTemplate,
      metadata: { note: 'x'.repeat(1000) },
    });
    if (ok.status !== 201) throw new InvalidProbe(`control: a small body → ${ok.status}`);
    await ctx.a.deleteSession((ok.body as unknown as Session).id);
    const big = JSON.stringify({
      template: ctx.target.pythonTemplate,
      metadata: { note: 'x'.repeat(2 * 1024 * 1024 + 1024) },
    });
    const t0 = Date.now();
    // node:http, not fetch: a server that answers 413 and closes before the upload ends is right,
    // and fetch reports that as a network error instead of the status
    const r = await ctx.a.rawPath('POST', '/v1/sessions', Buffer.from(big), 30_000, 'application/json');
    if (r.status === 201) await ctx.a.deleteSession((JSON.parse(r.body.toString()) as Session).id);
    if (r.status !== 413)
      throw new Breach(`a ${(big.length / 2 ** 20).toFixed(1)} MiB JSON body → ${r.status}, expected 413`);
    const code = (JSON.parse(r.body.toString() || '{}') as ErrorBody).error?.code;
    const five = Buffer.from(`{"code":"${'x'.repeat(5 * 1024 * 1024)}"}`);
    const s = await ctx.attacker();
    const r5 = await ctx.a.rawPath(
      'POST',
      `/v1/sessions/${s.id}/executions`,
      five,
      30_000,
      'application/json',
    );
    if (r5.status !== 413)
      throw new Breach(`a 5 MiB JSON body to POST …/executions → ${r5.status}, expected 413`);
    return `2 MiB + 1 KiB → 413 ${code} in ${Date.now() - t0} ms; 5 MiB → 413`;
  }),

  attack(7, 'code-over-1mib', async (ctx) => {
    const s = await ctx.attacker();
    const r = await ctx.a.request<ErrorBody>('POST', `/v1/sessions/${s.id}/executions`, {
      code: `# ${'x'.repeat(1024 * 1024 + 10)}`,
    });
    if (r.status !== 413) throw new Breach(`1 MiB of code → ${r.status}, expected 413`);
    return `413 ${r.body?.error?.code}`;
  }),

  attack(7, 'idempotent-execution', async (ctx) => {
    const s = await ctx.session();
    const key = `sec-e2e-${nonce()}`;
    const code = `import uuid\nwith open("runs.txt", "a") as f:\n    f.write("run\\n")\nprint(uuid.uuid4())`;
    const first = await ctx.a.request<{ id: string; stdout: string }>(
      'POST',
      `/v1/sessions/${s.id}/executions`,
      { code },
      { headers: { 'idempotency-key': key } },
    );
    if (first.status !== 200) throw new InvalidProbe(`control: the first POST → ${first.status}`);
    const again = await ctx.a.request<{ id: string; stdout: string }>(
      'POST',
      `/v1/sessions/${s.id}/executions`,
      { code },
      { headers: { 'idempotency-key': key } },
    );
    const key2 = `sec-e2e-${nonce()}`;
    const concurrent = await Promise.all(
      [0, 1, 2].map(() =>
        ctx.a.request<{ id: string; stdout: string }>(
          'POST',
          `/v1/sessions/${s.id}/executions`,
          { code },
          { headers: { 'idempotency-key': key2 } },
        ),
      ),
    );
    const runs = await ctx.a.request('GET', `/v1/sessions/${s.id}/files/runs.txt`);
    const count = runs.raw.toString().split('\n').filter(Boolean).length;
    const bad: string[] = [];
    if (again.status !== 200 || again.body.stdout !== first.body.stdout)
      bad.push(`the retry answered differently (${again.status})`);
    const stdouts = new Set(concurrent.filter((r) => r.status === 200).map((r) => r.body.stdout));
    if (stdouts.size > 1) bad.push('concurrent retries got different answers');
    if (count !== 2) bad.push(`the code ran ${count} times for 2 idempotency keys (5 POSTs)`);
    if (bad.length) throw new Breach(bad.join('; '));
    return `5 POSTs with 2 keys ran 2 times; retries returned the first answer`;
  }),

  attack(7, 'idempotent-session-create', async (ctx) => {
    const key = `sec-e2e-${nonce()}`;
    const rs = [];
    for (let i = 0; i < 2; i++)
      rs.push(
        await ctx.a.request<Session>(
          'POST',
          '/v1/sessions',
          { template: ctx.target.pythonTemplate },
          { headers: { 'idempotency-key': key } },
        ),
      );
    const ids = [...new Set(rs.filter((r) => r.status === 201 || r.status === 200).map((r) => r.body.id))];
    for (const id of ids) await ctx.a.deleteSession(id);
    if (!ids.length) throw new InvalidProbe('control: no session created');
    if (ids.length > 1) throw new Breach(`a retried POST /v1/sessions created ${ids.length} sessions`);
    return 'a retried POST /v1/sessions returned the same session';
  }),
];
