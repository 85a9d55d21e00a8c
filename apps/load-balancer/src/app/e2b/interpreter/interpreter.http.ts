import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { normalizeContextLanguage, type ContextInfo } from '@executor/queues';
import { ContextsService } from '../../contexts/contexts.service';
import { ExecutionsService } from '../../executions/executions.service';
import { ApiError } from '../../http/api-error';
import { validateBody } from '../../http/validate';
import type { LiveSession } from '../../sessions/session-caller.service';
import { SANDBOX_HOME } from '../e2b-protocol';
import { sandboxHttpError } from '../sandbox/sandbox-errors';
import type { SandboxResolver } from '../sandbox/sandbox-resolver.service';
import { e2bResultLine } from './results';

const EnvVars = Type.Record(
  Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }),
  Type.String({ maxLength: 65536 }),
  { maxProperties: 256 },
);
export const ExecuteRequest = Type.Object(
  {
    code: Type.String(),
    context_id: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Null()])),
    language: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 32 }), Type.Null()])),
    env_vars: Type.Optional(Type.Union([EnvVars, Type.Null()])),
  },
  { additionalProperties: true },
);
export const CreateContextRequest = Type.Object(
  {
    language: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 32 }), Type.Null()])),
    cwd: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 4096 }), Type.Null()])),
  },
  { additionalProperties: true },
);

/** Code-interpreter requests carry the traffic token (or the envd token on /execute). */
const sandbox = (resolver: SandboxResolver, req: FastifyRequest): Promise<LiveSession> =>
  resolver.resolve(req.headers, 'interpreter');

/**
 * `POST /execute`: NDJSON, headers at once, one whole JSON object per line as the kernel produces
 * it (`stdout`, `stderr`, `result`, `error`), then `number_of_executions` and `end_of_execution`.
 */
export async function execute(
  resolver: SandboxResolver,
  executions: ExecutionsService,
  contexts: ContextsService,
  timeoutMs: number,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const sb = await sandbox(resolver, req);
  const body = validateBody(ExecuteRequest, req.body);
  executions.checkCode(body.code);
  if (body.context_id && body.language)
    throw new ApiError('invalid_argument', 'give context_id or language, not both');
  if (body.language && !normalizeContextLanguage(body.language))
    throw new ApiError('invalid_argument', `language: "${body.language}" is not available`);
  if (body.context_id && !(await contexts.list(sb)).some((c) => c.id === body.context_id))
    throw new ApiError('not_found', `context "${body.context_id}" not found`);
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'application/x-ndjson',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  const line = (o: Record<string, unknown>): void => {
    if (!res.destroyed) res.write(`${JSON.stringify(o)}\n`);
  };
  let errorSent = false;
  try {
    const view = await executions.run(
      sb,
      {
        code: body.code,
        timeoutMs,
        ...(body.context_id ? { context: body.context_id } : {}),
        ...(body.language ? { language: body.language } : {}),
        ...(body.env_vars ? { env: body.env_vars } : {}),
      },
      (e) => {
        if (e.t === 'stdout' || e.t === 'stderr')
          line({ type: e.t, text: e.text, timestamp: e.ts * 1_000_000 });
        else if (e.t === 'result') line(e2bResultLine(e.result));
        else if (e.t === 'error') {
          errorSent = true;
          line({ type: 'error', name: e.error.name, value: e.error.value, traceback: e.error.traceback });
        }
      },
    );
    if (!errorSent && view.error) line({ type: 'error', ...view.error });
    else if (!errorSent && view.timedOut)
      line({
        type: 'error',
        name: 'TimeoutError',
        value: `execution timed out after ${timeoutMs} ms`,
        traceback: '',
      });
    if (view.executionCount !== undefined)
      line({ type: 'number_of_executions', execution_count: view.executionCount });
    line({ type: 'end_of_execution' });
  } catch (err) {
    const e = sandboxHttpError(err);
    line({ type: 'error', name: 'SandboxError', value: e.body.message, traceback: '' });
    line({ type: 'unexpected_end_of_execution' });
  } finally {
    res.end();
  }
}

export async function createContext(
  resolver: SandboxResolver,
  contexts: ContextsService,
  req: FastifyRequest,
): Promise<ContextInfo> {
  const sb = await sandbox(resolver, req);
  const body = validateBody(CreateContextRequest, req.body ?? {});
  const language = body.language || 'python';
  if (!normalizeContextLanguage(language))
    throw new ApiError('invalid_argument', `language: "${language}" is not available`);
  const ctx = await contexts.create(sb, language, body.cwd || SANDBOX_HOME);
  // E2B answers the language as asked (`js` stays `js`).
  return { ...ctx, language };
}

export async function listContexts(
  resolver: SandboxResolver,
  contexts: ContextsService,
  req: FastifyRequest,
): Promise<ContextInfo[]> {
  return contexts.list(await sandbox(resolver, req));
}

export async function restartContext(
  resolver: SandboxResolver,
  contexts: ContextsService,
  req: FastifyRequest<{ Params: { id: string } }>,
): Promise<void> {
  await contexts.restart(await sandbox(resolver, req), req.params.id);
}

export async function removeContext(
  resolver: SandboxResolver,
  contexts: ContextsService,
  req: FastifyRequest<{ Params: { id: string } }>,
): Promise<void> {
  await contexts.remove(await sandbox(resolver, req), req.params.id);
}
