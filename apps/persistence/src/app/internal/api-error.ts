import {
  ArgumentsHost,
  Catch,
  HttpException,
  HttpStatus,
  Logger,
  type ExceptionFilter,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';

/** Error codes of the internal API (the platform's public codes, API.md). */
export const ApiErrorCodes = {
  invalidArgument: 'invalid_argument',
  unauthenticated: 'unauthenticated',
  permissionDenied: 'permission_denied',
  notFound: 'not_found',
  internal: 'internal',
} as const;
export type ApiErrorCode = (typeof ApiErrorCodes)[keyof typeof ApiErrorCodes];

/** An HTTP error answered as `{ error: { code, message } }`. */
export class ApiError extends HttpException {
  constructor(
    status: number,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super({ error: { code, message } }, status);
  }
}

/** Answers every error of the internal API as `{ error: { code, message } }`. */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger(ApiErrorFilter.name);

  catch(err: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (err instanceof ApiError) {
      void reply.status(err.getStatus()).send(err.getResponse());
      return;
    }
    if (err instanceof HttpException) {
      const status = err.getStatus();
      const code =
        status === 404
          ? ApiErrorCodes.notFound
          : status < 500
            ? ApiErrorCodes.invalidArgument
            : ApiErrorCodes.internal;
      void reply.status(status).send({ error: { code, message: err.message } });
      return;
    }
    this.logger.error(`internal API error: ${(err as Error)?.stack ?? String(err)}`);
    void reply.status(HttpStatus.INTERNAL_SERVER_ERROR).send({
      error: { code: ApiErrorCodes.internal, message: (err as Error)?.message ?? 'internal error' },
    });
  }
}
