import { ArgumentsHost, Catch, Logger, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { mapError } from '../../http/exception.filter';

/** E2B's error body: `{code: <HTTP status>, message}` (the SDK keys NotFound/kill → false on code 404). */
export interface E2bErrorBody {
  code: number;
  message: string;
}

/** Any error as E2B's control plane answers it: same statuses as /v1, E2B's body. */
export function e2bError(err: unknown): {
  status: number;
  body: E2bErrorBody;
  headers: Record<string, string>;
  internal: boolean;
} {
  const m = mapError(err);
  const headers = { ...m.headers };
  delete headers['www-authenticate'];
  return {
    status: m.status,
    body: { code: m.status, message: m.body.error.message },
    headers,
    internal: m.internal,
  };
}

/** Controller filter of the E2B control plane. */
@Catch()
export class E2bErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('E2bControlPlane');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const e = e2bError(exception);
    if (e.internal)
      this.logger.error(
        exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
      );
    void reply.status(e.status).headers(e.headers).send(e.body);
  }
}
