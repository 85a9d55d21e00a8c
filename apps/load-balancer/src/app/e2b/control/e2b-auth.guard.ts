import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { DEFAULT_TENANT, principalOf, type AuthedRequest } from '../../auth/auth';
import { LB_CONFIG, type LbConfig } from '../../config/config';
import { ApiError } from '../../http/api-error';

/**
 * `X-API-KEY` on E2B's control plane: the same key ring, roles and tenants as /v1 (principalOf
 * resolves Authorization and X-API-KEY alike). Sandboxes belong to tenants: an admin key → 403.
 */
@Injectable()
export class E2bApiKeyGuard implements CanActivate {
  constructor(@Inject(LB_CONFIG) private readonly config: LbConfig) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    if (!this.config.authEnabled) {
      req.tenant = DEFAULT_TENANT;
      return true;
    }
    const p = principalOf(req, this.config);
    if (!p)
      throw new ApiError(
        'unauthenticated',
        req.headers['x-api-key'] ? 'Invalid API key' : 'missing API key: send X-API-KEY',
      );
    if (p.role !== 'tenant')
      throw new ApiError(
        'permission_denied',
        'sandboxes need a tenant key (EXECUTOR_API_KEYS), not an admin key',
      );
    req.tenant = p.name;
    return true;
  }
}
