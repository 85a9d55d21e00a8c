import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { collectBody } from '../../http/body';
import { ContextsService } from '../../contexts/contexts.service';
import { ProcessesService } from '../../commands/processes.service';
import { LB_CONFIG, type LbConfig } from '../../config/config';
import { ExecutionsService } from '../../executions/executions.service';
import { FilesService } from '../../files/files.service';
import { ApiError } from '../../http/api-error';
import { ENVD_PORT, INTERPRETER_PORT, SANDBOX_ROUTE_PREFIX } from '../e2b-protocol';
import { downloadFile, uploadFiles, type FilesQuery } from '../envd/files.http';
import { filesystemService } from '../envd/filesystem.rpc';
import { Filesystem } from '../envd/gen/filesystem/filesystem_pb';
import { Process } from '../envd/gen/process/process_pb';
import { processService } from '../envd/process.rpc';
import {
  createContext,
  execute,
  listContexts,
  removeContext,
  restartContext,
} from '../interpreter/interpreter.http';
import { OpenStreams } from './event-queue';
import { SandboxGoneError, sandboxHttpError } from './sandbox-errors';
import { SandboxResolver } from './sandbox-resolver.service';

/** Code-interpreter routes whose body is JSON (everything else on this plane streams its body). */
const JSON_BODY = new RegExp(`^${SANDBOX_ROUTE_PREFIX}/${INTERPRETER_PORT}/(execute|contexts)`);

/**
 * The sandbox plane of E2B's protocol: every request carrying `E2b-Sandbox-Id` (rewritten to
 * `/_e2b/sandbox/<port>/...` by `rewriteSandboxUrl` before routing) lands in this fastify plugin —
 * envd (49983: `/health`, `/files`, Connect `filesystem.Filesystem` and `process.Process` through
 * @connectrpc/connect-node) and the code interpreter (49999: `/execute`, `/contexts`). Its own body
 * parsing (uploads stream, never buffered), errors (`{code, message}`, 502 for a gone sandbox) and
 * 404s. It calls the same session services as /v1.
 */
@Injectable()
export class SandboxPlane implements BeforeApplicationShutdown {
  private readonly logger = new Logger('E2bSandboxPlane');
  private readonly streams = new OpenStreams();

  constructor(
    private readonly resolver: SandboxResolver,
    private readonly files: FilesService,
    private readonly processes: ProcessesService,
    private readonly executions: ExecutionsService,
    private readonly contexts: ContextsService,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
  ) {}

  /** Ends open watch and process streams before the HTTP server closes (their processes keep running). */
  beforeApplicationShutdown(): void {
    this.streams.closeAll();
  }

  /** Registers the plugin on the app's fastify instance (before `app.init()`). */
  async attach(app: NestFastifyApplication): Promise<void> {
    await app.register(
      ((f: FastifyInstance) => this.plugin(f)) as never,
      { prefix: SANDBOX_ROUTE_PREFIX } as never,
    );
  }

  private async plugin(f: FastifyInstance): Promise<void> {
    const limit = this.config.MAX_BODY_BYTES;
    f.removeAllContentTypeParsers();
    f.addContentTypeParser('*', (req, payload, done) => {
      if (!JSON_BODY.test(req.url)) return done(null); // streamed by the handler (uploads, Connect)
      collectBody(payload, limit).then(
        (b) => {
          if (!b.length) return done(null, {});
          try {
            done(null, JSON.parse(b.toString('utf8')) as unknown);
          } catch (err) {
            done(
              new ApiError('invalid_argument', `body: invalid JSON (${(err as Error).message})`),
              undefined,
            );
          }
        },
        (err: Error) => done(err, undefined),
      );
    });
    f.setErrorHandler((err, req, reply) => {
      const e = sandboxHttpError(err, req.url.includes('/files'));
      if (e.internal) this.logger.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      void reply.status(e.status).send(e.body);
    });
    // Like E2B's proxy: a sandbox that is gone answers 502 whatever the path; a closed port 502; else 404.
    f.setNotFoundHandler(async (req, reply) => {
      const m = /^\/_e2b\/sandbox\/(\d+)\//.exec(req.url);
      const port = m ? Number(m[1]) : 0;
      const id = this.resolver.sandboxId(req.headers);
      try {
        await this.resolver.resolve(req.headers, 'none');
      } catch (err) {
        const e = sandboxHttpError(err);
        return reply.status(e.status).send(e.body);
      }
      if (port !== ENVD_PORT && port !== INTERPRETER_PORT)
        return reply.status(502).send({
          code: 502,
          message: `The sandbox ${id} is running but port ${port} is not open`,
          sandboxId: id,
        });
      return reply.status(404).send({
        code: 404,
        message: `${req.method} ${req.url.replace(/^\/_e2b\/sandbox\/\d+/, '')} not found`,
      });
    });

    // ---- envd (49983)
    const envd = `/${ENVD_PORT}`;
    f.get(`${envd}/health`, async (req, reply) => {
      try {
        await this.resolver.resolve(req.headers, 'none');
      } catch (err) {
        if (err instanceof SandboxGoneError)
          return reply.status(502).send({ code: 502, message: err.message });
        throw err;
      }
      return reply.status(204).send();
    });
    f.get<{ Querystring: FilesQuery }>(`${envd}/files`, (req, reply) =>
      downloadFile(this.resolver, this.files, req, reply),
    );
    f.post<{ Querystring: FilesQuery }>(`${envd}/files`, async (req, reply) =>
      reply.status(200).send(await uploadFiles(this.resolver, this.files, req)),
    );
    const connect = connectNodeAdapter({
      routes: (router) => {
        router.service(Filesystem, filesystemService(this.resolver, this.files, this.streams));
        router.service(Process, processService(this.resolver, this.processes, this.streams));
      },
      requestPathPrefix: `${SANDBOX_ROUTE_PREFIX}${envd}`,
      jsonOptions: { ignoreUnknownFields: true },
    });
    f.post(`${envd}/*`, (req: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      connect(req.raw, reply.raw);
    });

    // ---- code interpreter (49999)
    const ci = `/${INTERPRETER_PORT}`;
    f.post(`${ci}/execute`, (req, reply) =>
      execute(
        this.resolver,
        this.executions,
        this.contexts,
        this.config.E2B_EXECUTION_TIMEOUT_MS,
        req,
        reply,
      ),
    );
    f.post(`${ci}/contexts`, async (req) => createContext(this.resolver, this.contexts, req));
    f.get(`${ci}/contexts`, async (req) => listContexts(this.resolver, this.contexts, req));
    f.post<{ Params: { id: string } }>(`${ci}/contexts/:id/restart`, async (req, reply) => {
      await restartContext(this.resolver, this.contexts, req);
      return reply.status(204).send();
    });
    f.delete<{ Params: { id: string } }>(`${ci}/contexts/:id`, async (req, reply) => {
      await removeContext(this.resolver, this.contexts, req);
      return reply.status(204).send();
    });
    f.get(`${ci}/health`, async (req, reply) => {
      await this.resolver.resolve(req.headers, 'none');
      return reply.status(204).send();
    });
  }
}
