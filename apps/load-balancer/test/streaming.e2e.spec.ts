import http from 'node:http';
import request from 'supertest';
import { AclUsers } from '@executor/queues';
import { uniquePrefix } from '@executor/testing';
import { AUTH_A, AUTH_ADMIN, KEY_A, startLb, testConfig } from './support/app';
import { startExecutor, startPersistence, type Proc } from './support/harness';
import { startAclRedis, type AclRedis } from './support/redis-acl';

/** Reads a streamed response line by line, noting when each line arrived. */
type Ev = Record<string, unknown> & { at: number };
const events = (lines: Array<{ text: string; at: number }>): Ev[] =>
  lines.map((l) => ({ ...(JSON.parse(l.text) as Record<string, unknown>), at: l.at }));

function streamed(
  url: string,
  path: string,
  body: unknown,
  headers: Record<string, string>,
  onLine?: (text: string) => void,
): Promise<{ status: number; type: string; lines: Array<{ text: string; at: number }> }> {
  const payload = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}${path}`,
      {
        method: body === undefined ? 'GET' : 'POST',
        headers:
          body === undefined
            ? headers
            : {
                'content-type': 'application/json',
                'content-length': Buffer.byteLength(payload),
                ...headers,
              },
      },
      (res) => {
        const lines: Array<{ text: string; at: number }> = [];
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          buf += c;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            lines.push({ text: buf.slice(0, nl), at: Date.now() });
            onLine?.(buf.slice(0, nl));
            buf = buf.slice(nl + 1);
          }
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), lines }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/**
 * Streaming and the capabilities the E2B surface shares with /v1, on the real app and a real
 * code-interpreter-v1 executor: executions streamed as NDJSON and SSE (chunks as printed), rich
 * results, contexts, commands (streamed, stdin, signals, re-attach), streamed files.
 */
describe('/v1 streaming, rich results, contexts, commands (real executor)', () => {
  let acl: AclRedis;
  let prefix: string;
  let persistence: Proc | undefined;
  let executor: Proc;
  let lb: Awaited<ReturnType<typeof startLb>>;
  let id: string;
  const api = () => request(lb.url);

  beforeAll(async () => {
    prefix = uniquePrefix('stream');
    acl = await startAclRedis(prefix);
    persistence = await startPersistence(acl);
    executor = await startExecutor(acl.admin, {
      acl,
      pool: 'ci',
      pod: 'ci-0',
      template: 'code-interpreter-v1',
    });
    lb = await startLb(testConfig(acl.url(AclUsers.loadBalancer), prefix));
    await api()
      .post('/v1/pools')
      .set(AUTH_ADMIN)
      .send({ name: 'ci', template: 'code-interpreter-v1' })
      .expect(201);
    id = (await api().post('/v1/sessions').set(AUTH_A).send({ template: 'code-interpreter-v1' }).expect(201))
      .body.id;
  }, 240_000);

  afterAll(async () => {
    await lb?.app.close();
    await executor?.stop();
    await persistence?.stop();
    await acl?.stop();
  });

  it('streams an execution as NDJSON: the first chunk arrives while the code still runs', async () => {
    const r = await streamed(
      lb.url,
      `/v1/sessions/${id}/executions`,
      { code: "import time\nprint('a', flush=True)\ntime.sleep(1)\nprint('b')\n6*7" },
      { authorization: `Bearer ${KEY_A}`, accept: 'application/x-ndjson' },
    );
    expect(r.status).toBe(200);
    expect(r.type).toContain('application/x-ndjson');
    const evs = events(r.lines);
    const out = evs.filter((e) => e['type'] === 'stdout');
    expect(out.map((e) => e['text']).join('')).toBe('a\nb\n');
    const end = evs.at(-1) as Ev;
    expect(end).toMatchObject({ type: 'end', exitCode: 0 });
    expect(end['stdout']).toMatch(/^a\nb\n/); // /v1 keeps the kernel's printed last value after the output
    expect(end['results']).toEqual([expect.objectContaining({ isMain: true, 'text/plain': '42' })]);
    const first = out.find((e) => String(e['text']).includes('a')) as Ev;
    expect(end.at - first.at).toBeGreaterThan(700);
  });

  it('streams as SSE too, and answers rich results and errors in plain JSON', async () => {
    const sse = await api()
      .post(`/v1/sessions/${id}/executions`)
      .set({ ...AUTH_A, accept: 'text/event-stream' })
      .send({ code: "print('x')" })
      .expect(200);
    expect(sse.headers['content-type']).toContain('text/event-stream');
    // print() writes 'x' and its newline separately: they may come as one event or two
    expect(sse.text).toMatch(/^event: stdout\ndata: \{"text":"x/);
    const sseStdout = [...sse.text.matchAll(/^event: stdout\ndata: (.*)$/gm)].map(
      (m) => (JSON.parse(m[1] as string) as { text: string }).text,
    );
    expect(sseStdout.join('')).toBe('x\n');
    expect(sse.text).toMatch(/event: end\ndata: \{.*"exitCode":0/);
    const err = await api()
      .post(`/v1/sessions/${id}/executions`)
      .set(AUTH_A)
      .send({ code: '1/0' })
      .expect(200);
    expect(err.body.error).toMatchObject({
      name: 'ZeroDivisionError',
      traceback: expect.stringContaining('1/0'),
    });
    const fig = await api()
      .post(`/v1/sessions/${id}/executions`)
      .set(AUTH_A)
      .send({ code: 'import matplotlib.pyplot as plt\nplt.plot([1, 2])' })
      .expect(200);
    expect(fig.body.results.some((x: Record<string, unknown>) => typeof x['image/png'] === 'string')).toBe(
      true,
    );
  });

  it('runs contexts as independent kernels', async () => {
    const ctx = await api()
      .post(`/v1/sessions/${id}/contexts`)
      .set(AUTH_A)
      .send({ language: 'javascript' })
      .expect(201);
    expect(ctx.body).toMatchObject({ language: 'javascript', cwd: '/home/user' });
    await api()
      .post(`/v1/sessions/${id}/executions`)
      .set(AUTH_A)
      .send({ code: 'var q = 5', context: ctx.body.id })
      .expect(200);
    const q = await api()
      .post(`/v1/sessions/${id}/executions`)
      .set(AUTH_A)
      .send({ code: 'q * 2', context: ctx.body.id });
    expect(q.body.results[0]['text/plain']).toBe('10');
    const list = await api().get(`/v1/sessions/${id}/contexts`).set(AUTH_A).expect(200);
    expect(list.body.items.map((c: { id: string }) => c.id)).toEqual(
      expect.arrayContaining(['default', ctx.body.id]),
    );
    await api().delete(`/v1/sessions/${id}/contexts/${ctx.body.id}`).set(AUTH_A).expect(204);
  });

  it('runs commands: waited, streamed, with stdin, signalled, re-attached', async () => {
    const r = await api()
      .post(`/v1/sessions/${id}/commands`)
      .set(AUTH_A)
      .send({ cmd: 'echo $A; exit 2', envs: { A: 'x' } });
    expect(r.body).toMatchObject({ exitCode: 2, exited: true, stdout: 'x\n' });
    const s = await streamed(
      lb.url,
      `/v1/sessions/${id}/commands`,
      { cmd: 'echo one; sleep 1; echo two' },
      {
        authorization: `Bearer ${KEY_A}`,
        accept: 'application/x-ndjson',
      },
    );
    const ev = events(s.lines);
    expect(ev[0]).toMatchObject({ type: 'start', pid: expect.any(Number) });
    expect(ev.at(-1)).toMatchObject({ type: 'end', exitCode: 0 });
    const one = ev.find((e) => String(e['text'] ?? '').includes('one')) as Ev;
    expect((ev.at(-1) as Ev).at - one.at).toBeGreaterThan(700);
    const bg = await api()
      .post(`/v1/sessions/${id}/commands`)
      .set(AUTH_A)
      .send({ cmd: 'cat', stdin: true, background: true })
      .expect(201);
    await api()
      .post(`/v1/sessions/${id}/commands/${bg.body.pid}/stdin`)
      .set(AUTH_A)
      .send({ data: 'hi\n', eof: true })
      .expect(204);
    const sl = await api()
      .post(`/v1/sessions/${id}/commands`)
      .set(AUTH_A)
      .send({ cmd: 'sleep 30', background: true })
      .expect(201);
    const list = await api().get(`/v1/sessions/${id}/commands`).set(AUTH_A).expect(200);
    expect(list.body.items.map((p: { pid: number }) => p.pid)).toContain(sl.body.pid);
    let onStart!: () => void;
    const started = new Promise<void>((r) => (onStart = r));
    const attached = streamed(
      lb.url,
      `/v1/sessions/${id}/commands/${sl.body.pid}/events`,
      undefined,
      { authorization: `Bearer ${KEY_A}` },
      (line) => line.includes('"start"') && onStart(),
    );
    // The re-attached stream starts with the pid; kill the process once it is attached.
    await started;
    await api()
      .post(`/v1/sessions/${id}/commands/${sl.body.pid}/signal`)
      .set(AUTH_A)
      .send({ signal: 'SIGKILL' })
      .expect(204);
    const att = events((await attached).lines);
    expect(att[0]).toMatchObject({ type: 'start', pid: sl.body.pid });
    expect(att.at(-1)).toMatchObject({ type: 'end', exitCode: -1, exited: false });
  });

  it('streams files up and down (several MiB), 404 for a missing one', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 7);
    await api().put(`/v1/sessions/${id}/files/big.bin`).set(AUTH_A).send(big).expect(204);
    const back = await api()
      .get(`/v1/sessions/${id}/files/big.bin`)
      .set(AUTH_A)
      .buffer(true)
      .parse((res, cb) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => cb(null, Buffer.concat(parts)));
      });
    expect(back.status).toBe(200);
    expect((back.body as Buffer).equals(big)).toBe(true);
    expect((await api().get(`/v1/sessions/${id}/files/missing.bin`).set(AUTH_A)).status).toBe(404);
  });
});
