import { Controller, Delete, Get, HttpCode, Inject, Param, Put, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Readable } from 'node:stream';
import { PodJobDefs, type FileEntry } from '@executor/queues';
import { ApiKeyGuard, Tenant } from '../auth/auth';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { ApiError } from '../http/api-error';
import { SessionCaller } from '../sessions/session-caller.service';
import { checkSessionId } from '../sessions/sessions.service';
import { FilesService } from './files.service';
import { workspacePath } from './workspace-path';

/** The session's workspace: raw bytes in and out, streamed through Redis pipes (never base64, never whole). */
@Controller('v1/sessions/:id/files')
@UseGuards(ApiKeyGuard)
export class FilesController {
  constructor(
    private readonly caller: SessionCaller,
    private readonly files: FilesService,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
  ) {}

  @Get()
  async list(@Tenant() tenant: string, @Param('id') id: string): Promise<{ items: FileEntry[] }> {
    const { result } = await this.caller.call(
      tenant,
      checkSessionId(id),
      PodJobDefs.filesList,
      (s) => ({ sessionId: s.id, tenant: s.tenant }),
      this.config.POD_CALL_TIMEOUT_MS,
    );
    return { items: result.items };
  }

  /** Raw body streamed to the pod through a pipe (never buffered whole); larger than MAX_FILE_BYTES → 413. */
  @Put('*')
  @HttpCode(204)
  async put(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Param('*') rawPath: string,
    @Req() req: FastifyRequest,
  ): Promise<void> {
    const path = workspacePath(rawPath);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.config.MAX_FILE_BYTES)
      throw new ApiError('payload_too_large', `file larger than ${this.config.MAX_FILE_BYTES} bytes`);
    const loaded = await this.caller.load(tenant, checkSessionId(id));
    await this.files.write(loaded, path, req.raw);
  }

  /** The file's bytes, streamed from the pod as they are read. */
  @Get('*')
  async get(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Param('*') rawPath: string,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const path = workspacePath(rawPath);
    const loaded = await this.caller.load(tenant, checkSessionId(id));
    const file = await this.files.read(loaded, path);
    void reply.status(200).header('content-type', 'application/octet-stream');
    if (file.empty) await reply.header('content-length', 0).send(Buffer.alloc(0));
    else await reply.send(Readable.from(file.body, { objectMode: false }));
  }

  @Delete('*')
  @HttpCode(204)
  async remove(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Param('*') rawPath: string,
  ): Promise<void> {
    const path = workspacePath(rawPath);
    const { result } = await this.caller.call(
      tenant,
      checkSessionId(id),
      PodJobDefs.filesDelete,
      (s) => ({ sessionId: s.id, tenant: s.tenant, path }),
      this.config.POD_CALL_TIMEOUT_MS,
    );
    if (!result.deleted) throw new ApiError('not_found', `file "${path}" not found`);
  }
}
