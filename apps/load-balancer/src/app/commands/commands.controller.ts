import { Body, Controller, Get, Headers, HttpCode, Param, Post, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Type } from '@sinclair/typebox';
import { PROCESS_SIGNALS, type ProcessEnd, type ProcessEvent, type ProcessInfo } from '@executor/queues';
import { ApiKeyGuard, Tenant } from '../auth/auth';
import { ApiError } from '../http/api-error';
import { EventStreamWriter, streamFormat, type StreamFormat } from '../http/event-stream';
import { mapError } from '../http/exception.filter';
import { MAX_TIMEOUT_MS } from '../http/schemas';
import { validateBody } from '../http/validate';
import { SessionCaller } from '../sessions/session-caller.service';
import { checkSessionId } from '../sessions/sessions.service';
import { ProcessesService, type ProcessHandle } from './processes.service';

const Env = Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Type.String({ maxLength: 65536 }), {
  maxProperties: 256,
});

export const RunCommandBody = Type.Object(
  {
    cmd: Type.String({ minLength: 1, maxLength: 1 << 20 }),
    args: Type.Optional(Type.Array(Type.String({ maxLength: 1 << 20 }), { maxItems: 4096 })),
    envs: Type.Optional(Env),
    cwd: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
    stdin: Type.Optional(Type.Boolean()),
    background: Type.Optional(Type.Boolean()),
    tag: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 24 * 3600 * 1000 })),
  },
  { additionalProperties: false },
);

const StdinBody = Type.Object(
  {
    data: Type.Optional(Type.String({ maxLength: 4 << 20 })),
    base64: Type.Optional(Type.String({ maxLength: 6 << 20 })),
    eof: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const SignalBody = Type.Object(
  { signal: Type.Union(PROCESS_SIGNALS.map((s) => Type.Literal(s))) },
  { additionalProperties: false },
);

/** A finished command as the API returns it. */
export interface CommandResult extends ProcessEnd {
  pid: number;
  stdout: string;
  stderr: string;
}

/** Text kept per stream of a waited-for command (bytes; the executor caps output too). */
const MAX_COLLECTED = 1 << 20;

/**
 * Commands (processes) in the session's sandbox: `cmd` is a shell command line run with
 * `/bin/bash -l -c` (E2B semantics) unless `args` is given (then `cmd` is the program). Streamed
 * like executions when asked (`start`, `stdout`/`stderr` with `data` base64 and `text`, `end`).
 */
@Controller('v1/sessions/:id/commands')
@UseGuards(ApiKeyGuard)
export class CommandsController {
  constructor(
    private readonly caller: SessionCaller,
    private readonly processes: ProcessesService,
  ) {}

  @Post()
  async run(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Body() raw: unknown,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CommandResult | { pid: number } | undefined> {
    const body = validateBody(RunCommandBody, raw);
    const loaded = await this.caller.load(tenant, checkSessionId(id));
    const params = {
      cmd: body.args ? body.cmd : '/bin/bash',
      args: body.args ?? ['-l', '-c', body.cmd],
      envs: body.envs ?? {},
      stdin: body.stdin ?? false,
      ...(body.cwd ? { cwd: body.cwd } : {}),
      ...(body.tag ? { tag: body.tag } : {}),
      timeoutMs: body.timeoutMs ?? (body.background ? 0 : MAX_TIMEOUT_MS),
    };
    const format = streamFormat(accept);
    if (body.background) {
      const h = await this.processes.start(loaded, params, () => undefined);
      await h.detach();
      void reply.status(201);
      return { pid: h.pid };
    }
    if (format) {
      reply.hijack();
      const out = new EventStreamWriter(reply.raw, format);
      await this.streamTo(out, (onEvent) => this.processes.start(loaded, params, onEvent));
      return undefined;
    }
    const collected = { stdout: [] as Buffer[], stderr: [] as Buffer[], sizes: { stdout: 0, stderr: 0 } };
    const h = await this.processes.start(loaded, params, (e) => {
      if (e.t !== 'stdout' && e.t !== 'stderr') return;
      const b = Buffer.from(e.data, 'base64');
      if (collected.sizes[e.t] + b.length > MAX_COLLECTED) return;
      collected.sizes[e.t] += b.length;
      collected[e.t].push(b);
    });
    const end = await h.ended.finally(() => h.detach());
    void reply.status(200);
    return {
      pid: h.pid,
      ...end,
      stdout: Buffer.concat(collected.stdout).toString('utf8'),
      stderr: Buffer.concat(collected.stderr).toString('utf8'),
    };
  }

  @Get()
  async list(@Tenant() tenant: string, @Param('id') id: string): Promise<{ items: ProcessInfo[] }> {
    const loaded = await this.caller.load(tenant, checkSessionId(id));
    return { items: await this.processes.list(loaded) };
  }

  @Post(':pid/stdin')
  @HttpCode(204)
  async stdin(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Param('pid') pid: string,
    @Body() raw: unknown,
  ): Promise<void> {
    const body = validateBody(StdinBody, raw);
    const loaded = await this.caller.load(tenant, checkSessionId(id));
    const sel = { pid: parsePid(pid) };
    const data =
      body.base64 !== undefined ? Buffer.from(body.base64, 'base64') : Buffer.from(body.data ?? '', 'utf8');
    if (data.length) await this.processes.input(loaded, sel, data);
    if (body.eof) await this.processes.closeStdin(loaded, sel);
  }

  @Post(':pid/signal')
  @HttpCode(204)
  async signal(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Param('pid') pid: string,
    @Body() raw: unknown,
  ): Promise<void> {
    const body = validateBody(SignalBody, raw);
    const loaded = await this.caller.load(tenant, checkSessionId(id));
    await this.processes.signal(loaded, { pid: parsePid(pid) }, body.signal);
  }

  /** Re-attach: the process's events from now on (NDJSON unless SSE is asked for), then `end`. */
  @Get(':pid/events')
  async events(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Param('pid') pid: string,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<undefined> {
    const loaded = await this.caller.load(tenant, checkSessionId(id));
    const sel = { pid: parsePid(pid) };
    await this.processes.get(loaded, sel); // 404 before the stream starts
    const format: StreamFormat = streamFormat(accept) ?? 'ndjson';
    reply.hijack();
    const out = new EventStreamWriter(reply.raw, format);
    await this.streamTo(out, (onEvent) => this.processes.attach(loaded, sel, onEvent));
    return undefined;
  }

  private async streamTo(
    out: EventStreamWriter,
    open: (onEvent: (e: ProcessEvent) => void) => Promise<ProcessHandle>,
  ): Promise<void> {
    try {
      const h = await open((e) => {
        // `start` is sent once the pid is known (below), for a start and a re-attach alike.
        if (e.t === 'start') return;
        if (e.t === 'stdout' || e.t === 'stderr')
          out.send(e.t, { data: e.data, text: Buffer.from(e.data, 'base64').toString('utf8') });
        else out.send('end', { ...e, t: undefined });
      });
      out.send('start', { pid: h.pid });
      await h.ended.finally(() => h.detach());
    } catch (err) {
      out.send('end', mapError(err).body as unknown as Record<string, unknown>);
    } finally {
      out.end();
    }
  }
}

function parsePid(raw: string): number {
  const pid = Number(raw);
  if (!Number.isInteger(pid) || pid < 1) throw new ApiError('not_found', `process "${raw}" not found`);
  return pid;
}
