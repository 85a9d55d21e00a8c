import { Controller, Delete, Get, HttpCode, Inject, Param, Put, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type Redis from 'ioredis';
import { PodJobDefs, executorTag, putTransfer, takeTransfer, type FileEntry } from '@executor/queues';
import { ApiKeyGuard, Tenant } from '../auth/auth';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { REDIS } from '../core/tokens';
import { ApiError } from '../http/api-error';
import { SessionCaller } from '../sessions/session-caller.service';
import { checkSessionId } from '../sessions/sessions.service';
import { workspacePath } from './workspace-path';

/** The session's workspace: raw bytes in and out (through Redis transfers, never base64). */
@Controller('v1/sessions/:id/files')
@UseGuards(ApiKeyGuard)
export class FilesController {
  constructor(
    private readonly caller: SessionCaller,
    @Inject(REDIS) private readonly redis: Redis,
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

  @Put('*')
  @HttpCode(204)
  async put(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Param('*') rawPath: string,
    @Req() req: FastifyRequest,
  ): Promise<void> {
    const path = workspacePath(rawPath);
    const body = req.body === undefined || req.body === null ? Buffer.alloc(0) : req.body;
    if (!Buffer.isBuffer(body))
      throw new ApiError(
        'invalid_argument',
        'body: send the file as raw bytes (Content-Type: application/octet-stream)',
      );
    if (body.length > this.config.MAX_FILE_BYTES)
      throw new ApiError('payload_too_large', `file larger than ${this.config.MAX_FILE_BYTES} bytes`);
    const loaded = await this.caller.load(tenant, checkSessionId(id));
    const keys: string[] = [];
    try {
      await this.caller.callLoaded(
        loaded,
        PodJobDefs.filesPut,
        async (s) => {
          // Under the pod's executor tag: its Redis user reaches only its own transfers.
          const blob = await putTransfer(this.redis, body, {
            prefix: this.config.QUEUE_PREFIX,
            scope: executorTag({ pool: s.pool, pod: s.pod }),
          });
          keys.push(blob.key);
          return { sessionId: s.id, tenant: s.tenant, path, blob };
        },
        this.config.POD_CALL_TIMEOUT_MS,
      );
    } finally {
      // The pod takes (GETDEL) the transfer; whatever it did not take is removed now.
      if (keys.length) await this.redis.del(...keys).catch(() => undefined);
    }
  }

  @Get('*')
  async get(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Param('*') rawPath: string,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const path = workspacePath(rawPath);
    const { result } = await this.caller.call(
      tenant,
      checkSessionId(id),
      PodJobDefs.filesGet,
      (s) => ({ sessionId: s.id, tenant: s.tenant, path }),
      this.config.POD_CALL_TIMEOUT_MS,
    );
    const bytes = await takeTransfer(this.redis, result.blob);
    await reply
      .status(200)
      .header('content-type', 'application/octet-stream')
      .header('content-length', bytes.length)
      .send(bytes);
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
