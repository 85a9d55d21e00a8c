import type { IncomingMessage } from 'node:http';
import { Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AdminService } from './admin/admin.service';
import { AppModule } from './app.module';
import type { LbConfig } from './config/config';
import { ApiError } from './http/api-error';
import { collectBody } from './http/body';
import { ApiExceptionFilter } from './http/exception.filter';
import { LbMetrics } from './metrics/metrics.service';
import { rewriteSandboxUrl } from './e2b/sandbox/routing';
import { SandboxPlane } from './e2b/sandbox/sandbox-plane.service';

/** The fastify instance under Nest (platform-fastify ships its own fastify). */
type FastifyInstance = ReturnType<ReturnType<NestFastifyApplication['getHttpAdapter']>['getInstance']>;

const LEVELS: LogLevel[] = ['error', 'warn', 'log', 'debug'];

/** Routes whose body is raw bytes whatever the Content-Type says. */
const FILES_ROUTE = /^\/v1\/sessions\/[^/]+\/files\//;
/** E2B control-plane routes, where an empty JSON body means `{}`. */
const E2B_CONTROL_ROUTE = /^\/(v2\/)?sandboxes(\/|$|\?)/;

/** Requests whose body the handler reads as a stream (file uploads: never buffered whole). */
function streamsBody(req: { method: string; url: string }): boolean {
  return req.method === 'PUT' && FILES_ROUTE.test(req.url);
}

/**
 * Body parsers: JSON (limit MAX_BODY_BYTES) and everything else as a Buffer (limit MAX_FILE_BYTES).
 * File uploads are left unread for the handler to stream, whatever their Content-Type.
 */
function registerParsers(fastify: FastifyInstance, config: LbConfig): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', (req, payload, done) => {
    if (streamsBody(req)) return done(null);
    collectBody(payload, config.MAX_BODY_BYTES).then(
      (body) => {
        if (body.length === 0) {
          if (E2B_CONTROL_ROUTE.test(req.url)) return done(null, {});
          return done(new ApiError('invalid_argument', 'body: empty JSON body'), undefined);
        }
        try {
          done(null, JSON.parse(body.toString('utf8')) as unknown);
        } catch (err) {
          done(new ApiError('invalid_argument', `body: invalid JSON (${(err as Error).message})`), undefined);
        }
      },
      (err: Error) => done(err, undefined),
    );
  });
  fastify.addContentTypeParser('*', (req, payload, done) => {
    if (streamsBody(req)) return done(null);
    collectBody(payload, config.MAX_FILE_BYTES).then(
      (body) => done(null, body),
      (err: Error) => done(err, undefined),
    );
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
    // E2B sandbox traffic is recognised by its E2b-Sandbox-Id header before any route (docs/e2b.md).
    ...(config.E2B_API === 'enabled'
      ? { rewriteUrl: (req: IncomingMessage): string => rewriteSandboxUrl(req.headers, req.url ?? '/') }
      : {}),
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
  if (config.E2B_API === 'enabled') await app.get(SandboxPlane).attach(app);
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
