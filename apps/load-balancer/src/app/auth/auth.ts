import {
  createParamDecorator,
  Inject,
  Injectable,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { ApiError } from '../http/api-error';

/** Tenant of every request when auth is disabled. */
export const DEFAULT_TENANT = 'default';

type AuthedRequest = FastifyRequest & { tenant?: string };

/**
 * The one place an API key becomes a tenant (every protocol: `Authorization: Bearer` on /v1, basic
 * auth on /admin, `X-API-KEY` on E2B's control plane). Undefined when the key is unknown.
 */
export function tenantForKey(key: string | undefined, keys: Map<string, string>): string | undefined {
  return key ? keys.get(key) : undefined;
}

/** Resolves an Authorization header to its tenant; undefined when unknown. Basic auth: the key is the password. */
export function tenantFromAuthorization(
  header: string | undefined,
  keys: Map<string, string>,
): string | undefined {
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space < 0) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer') return tenantForKey(value, keys);
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? tenantForKey(decoded.slice(colon + 1), keys) : undefined;
  }
  return undefined;
}

/** `Authorization: Bearer <key>` on every /v1 route; sets the request's tenant. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(@Inject(LB_CONFIG) private readonly config: LbConfig) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    if (!this.config.authEnabled) {
      req.tenant = DEFAULT_TENANT;
      return true;
    }
    const header = req.headers.authorization;
    const tenant = tenantFromAuthorization(header, this.config.keys);
    if (!tenant) {
      throw new ApiError(
        'unauthenticated',
        header ? 'unknown API key' : 'missing API key: send Authorization: Bearer <key>',
      );
    }
    req.tenant = tenant;
    return true;
  }
}

/** The authenticated tenant of the request. */
export const Tenant = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  const tenant = ctx.switchToHttp().getRequest<AuthedRequest>().tenant;
  if (!tenant) throw new ApiError('unauthenticated', 'not authenticated');
  return tenant;
});
