import { Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type Redis from 'ioredis';
import { AdminService } from './admin/admin.service';
import { AppModule } from './app.module';
import { principalOf, type AuthedRequest } from './auth/auth';
import type { LbConfig } from './config/config';
import { REDIS } from './core/tokens';
import { ApiError } from './http/api-error';
import { ApiExceptionFilter } from './http/exception.filter';
import { registerRateLimit } from './http/rate-limit';
import { registerIdempotency } from './idempotency/idempotency.hooks';
import { IdempotencyService } from './idempotency/idempotency.service';
import { LbMetrics } from './metrics/metrics.service';

/** The fastify instance under Nest (platform-fastify ships its own fastify). */
type FastifyInstance = ReturnType<ReturnType<NestFastifyApplication['getHttpAdapter']>['getInstance']>;

const LEVELS: LogLevel[] = ['error', 'warn', 'log', 'debug'];

/** Routes whose body is raw bytes whatever the Content-Type says. */
const FILES_ROUTE = /^\/v1\/sessions\/[^/]+\/files\//;

/**
 * Reads a body up to `limit` bytes; beyond it (or a Content-Length announcing more) the request
 * is refused with 413 at once, without buffering the rest.
 */
/** The part of a request the parsers read (two fastify type copies are in play). */
interface ParsedRequest {
  url: string;
  headers: Record<string, string | string[] | undefined>;
}

function readLimited(
  req: ParsedRequest,
  payload: NodeJS.ReadableStream,
  limit: number,
  done: (err: Error | null, body?: Buffer) => void,
): void {
  const tooLarge = (): ApiError =>
    new ApiError('payload_too_large', `request body larger than ${limit} bytes`);
  const announced = Number(req.headers['content-length'] ?? NaN);
  if (announced > limit) {
    payload.resume();
    return done(tooLarge());
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let failed = false;
  payload.on('data', (c: Buffer) => {
    if (failed) return;
    size += c.length;
    if (size > limit) {
      failed = true;
      chunks.length = 0;
      done(tooLarge());
      return;
    }
    chunks.push(c);
  });
  payload.on('error', (err: Error) => {
    if (!failed) {
      failed = true;
      done(err);
    }
  });
  payload.on('end', () => {
    if (!failed) done(null, Buffer.concat(chunks, size));
  });
}

/**
 * Body parsers: JSON (≤ MAX_BODY_BYTES) and everything else as a Buffer (≤ MAX_BODY_BYTES, or
 * MAX_FILE_BYTES on a file upload route). A file upload is raw bytes even when sent as
 * application/json. A body over its limit is refused without being read past the limit.
 */
function registerParsers(fastify: FastifyInstance, config: LbConfig): void {
  fastify.removeAllContentTypeParsers();
  const outer = Math.max(config.MAX_BODY_BYTES, config.MAX_FILE_BYTES);
  const limitOf = (req: ParsedRequest): number =>
    FILES_ROUTE.test(req.url) ? config.MAX_FILE_BYTES : config.MAX_BODY_BYTES;
  fastify.addContentTypeParser('application/json', { bodyLimit: outer }, (req, payload, done) => {
    readLimited(req, payload, limitOf(req), (err, body) => {
      if (err || !body) return done(err ?? new Error('no body'), undefined);
      if (FILES_ROUTE.test(req.url)) return done(null, body);
      if (body.length === 0)
        return done(new ApiError('invalid_argument', 'body: empty JSON body'), undefined);
      try {
        done(null, JSON.parse(body.toString('utf8')) as unknown);
      } catch (e) {
        done(new ApiError('invalid_argument', `body: invalid JSON (${(e as Error).message})`), undefined);
      }
    });
  });
  fastify.addContentTypeParser('*', { bodyLimit: outer }, (req, payload, done) => {
    readLimited(req, payload, limitOf(req), (err, body) => done(err, body));
  });
}

/** Resolves the caller (tenant or admin key) once per request, before rate limits and routes. */
function registerAuthHook(fastify: FastifyInstance, config: LbConfig): void {
  fastify.addHook('onRequest', (req, _reply, done) => {
    principalOf(req as unknown as AuthedRequest, config);
    done();
  });
}

/** Request counts and latency by route template and status. */
function registerMetricsHooks(fastify: FastifyInstance, metrics: LbMetrics): void {
  fastify.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.request(req.method, route, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}

/** Builds the whole app (not listening yet): parsers, filters, metrics hooks, admin UI. */
export async function createApp(config: LbConfig): Promise<NestFastifyApplication> {
  const bodyLimit = Math.max(config.MAX_BODY_BYTES, config.MAX_FILE_BYTES);
  const adapter = new FastifyAdapter({
    bodyLimit,
    logger: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    bodyParser: false,
    logger: LEVELS.slice(0, LEVELS.indexOf(config.LOG_LEVEL) + 1),
  });
  const fastify = app.getHttpAdapter().getInstance();
  registerParsers(fastify, config);
  registerAuthHook(fastify, config);
  registerMetricsHooks(fastify, app.get(LbMetrics));
  await registerRateLimit(fastify, config, app.get<Redis>(REDIS));
  registerIdempotency(fastify, config, app.get(IdempotencyService));
  warnUnsafe(config);
  app.useGlobalFilters(new ApiExceptionFilter());
  app.enableShutdownHooks();
  await app.get(AdminService).attach(app);
  await app.init();
  return app;
}

/** Unsafe choices are only taken when set explicitly, and then said at WARN. */
function warnUnsafe(config: LbConfig): void {
  const logger = new Logger('LoadBalancer');
  if (!config.authEnabled)
    logger.warn('EXECUTOR_AUTH=disabled: every caller is tenant "default" and admin; never expose this');
  if (config.ADMIN_UI_SESSION_DATA === 'shown')
    logger.warn('ADMIN_UI_SESSION_DATA=shown: the admin UI shows session code, env values and output');
}

/** Creates the app and listens on HOST:PORT; logs the ready line. */
export async function startApp(config: LbConfig): Promise<NestFastifyApplication> {
  const app = await createApp(config);
  await app.listen(config.PORT, config.HOST);
  const addr = app.getHttpServer().address();
  const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
  // Always printed (whatever LOG_LEVEL): launchers and tests wait for this line.
  process.stdout.write(
    `load-balancer listening on http://${config.HOST}:${port} (replica ${config.replicaId})\n`,
  );
  if (config.ADMIN_UI === 'enabled')
    new Logger('LoadBalancer').log(`queue admin UI: http://${config.HOST}:${port}/admin/queues`);
  return app;
}
