import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpStatus, Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { PERSISTENCE_CONFIG, type PersistenceConfig } from '../config/config';
import { ApiError, ApiErrorCodes } from './api-error';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * /internal/* (read and delete any session's stored state) is for operators: with
 * INTERNAL_API_TOKEN set it needs `Authorization: Bearer <token>` (compared in constant time),
 * otherwise only loopback peers (the TCP peer address, which a remote client cannot fake).
 */
@Injectable()
export class InternalApiGuard implements CanActivate {
  private readonly token?: Buffer;

  constructor(@Inject(PERSISTENCE_CONFIG) config: PersistenceConfig) {
    if (config.INTERNAL_API_TOKEN) this.token = digest(config.INTERNAL_API_TOKEN);
  }

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    if (this.token) {
      const h = req.headers.authorization ?? '';
      const given = h.toLowerCase().startsWith('bearer ') ? h.slice(7).trim() : '';
      if (!given || !timingSafeEqual(digest(given), this.token))
        throw new ApiError(
          HttpStatus.UNAUTHORIZED,
          ApiErrorCodes.unauthenticated,
          'missing or wrong internal API token',
        );
      return true;
    }
    const peer = req.socket?.remoteAddress ?? '';
    if (!LOOPBACK.test(peer))
      throw new ApiError(
        HttpStatus.FORBIDDEN,
        ApiErrorCodes.permissionDenied,
        'the internal API answers loopback peers only (set INTERNAL_API_TOKEN to reach it from elsewhere)',
      );
    return true;
  }
}
