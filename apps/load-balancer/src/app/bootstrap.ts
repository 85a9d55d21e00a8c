import { Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AdminService } from './admin/admin.service';
import { AppModule } from './app.module';
import type { LbConfig } from './config/config';
import { ApiError } from './http/api-error';
import { ApiExceptionFilter } from './http/exception.filter';
import { LbMetrics } from './metrics/metrics.service';

/** The fastify instance under Nest (platform-fastify ships its own fastify). */
type FastifyInstance = ReturnType<ReturnType<NestFastifyApplication['getHttpAdapter']>['getInstance']>;

const LEVELS: LogLevel[] = ['error', 'warn', 'log', 'debug'];

/** Routes whose body is raw bytes whatever the Content-Type says. */
const FILES_ROUTE = /^\/v1\/sessions\/[^/]+\/files\//;

/**
 * Body parsers: JSON (limit MAX_BODY_BYTES) and everything else as a Buffer (limit MAX_FILE_BYTES).
 * A file upload is raw bytes even when sent as application/json.
 */
function registerParsers(fastify: FastifyInstance, config: LbConfig): void {
  fastify.removeAllContentTypeParsers();
  const jsonLimit = Math.max(config.MAX_BODY_BYTES, config.MAX_FILE_BYTES);
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: jsonLimit },
    (req, body, done) => {
      if (FILES_ROUTE.test(req.url)) return done(null, body);
      if (body.length > config.MAX_BODY_BYTES)
        return done(
          new ApiError('payload_too_large', `request body larger than ${config.MAX_BODY_BYTES} bytes`),
          undefined,
        );
      if (body.length === 0)
        return done(new ApiError('invalid_argument', 'body: empty JSON body'), undefined);
      try {
        done(null, JSON.parse(body.toString('utf8')) as unknown);
      } catch (err) {
        done(new ApiError('invalid_argument', `body: invalid JSON (${(err as Error).message})`), undefined);
      }
    },
  );
  fastify.addContentTypeParser(
    '*',
    { parseAs: 'buffer', bodyLimit: config.MAX_FILE_BYTES },
    (_req, body, done) => {
      done(null, body);
    },
  );
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
  registerMetricsHooks(fastify, app.get(LbMetrics));
  app.useGlobalFilters(new ApiExceptionFilter());
  app.enableShutdownHooks();
  await app.get(AdminService).attach(app);
  await app.init();
  return app;
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
