import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { DEFAULT_TENANT, tenantForKey } from '../../auth/auth';
import { LB_CONFIG, type LbConfig } from '../../config/config';
import { ApiError } from '../../http/api-error';

/** `X-API-KEY` on E2B's control plane: the same keys and tenants as /v1 (one key → tenant function). */
@Injectable()
export class E2bApiKeyGuard implements CanActivate {
  constructor(@Inject(LB_CONFIG) private readonly config: LbConfig) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<FastifyRequest & { tenant?: string }>();
    if (!this.config.authEnabled) {
      req.tenant = DEFAULT_TENANT;
      return true;
    }
    const raw = req.headers['x-api-key'];
    const key = Array.isArray(raw) ? raw[0] : raw;
    const tenant = tenantForKey(key, this.config.keys);
    if (!tenant)
      throw new ApiError('unauthenticated', key ? 'Invalid API key' : 'missing API key: send X-API-KEY');
    req.tenant = tenant;
    return true;
  }
}
