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
import type { KeyRing, Principal } from './keyring';

/** Tenant (and admin name) of every request when auth is disabled. */
export const DEFAULT_TENANT = 'default';

/** Request fields set by the auth hook. */
export type AuthedRequest = FastifyRequest & { principal?: Principal | null; tenant?: string };

/** Extracts the key of `Authorization: Bearer <key>` or basic auth (the key is the password). */
export function keyFromAuthorization(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const space = header.indexOf(' ');
  if (space < 0) return undefined;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'bearer') return value || undefined;
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) || undefined : undefined;
  }
  return undefined;
}

/** Resolves the Authorization header to a principal; undefined when missing or unknown. */
export function principalFromAuthorization(
  header: string | undefined,
  keyring: KeyRing,
): Principal | undefined {
  const key = keyFromAuthorization(header);
  return key === undefined ? undefined : keyring.lookup(key);
}

/** E2B's control plane sends the key as `X-API-KEY` (same keys, same tenants). */
export function principalFromApiKeyHeader(
  header: string | string[] | undefined,
  keyring: KeyRing,
): Principal | undefined {
  const key = Array.isArray(header) ? header[0] : header;
  return key ? keyring.lookup(key) : undefined;
}

/**
 * The principal of a request, resolved once (by the auth hook on every request, before rate
 * limits; guards fall back to resolving it themselves). Auth disabled: tenant and admin `default`.
 */
export function principalOf(req: AuthedRequest, config: LbConfig): Principal | undefined {
  if (req.principal === undefined) {
    req.principal = config.authEnabled
      ? (principalFromAuthorization(req.headers.authorization, config.keyring) ??
        principalFromApiKeyHeader(req.headers['x-api-key'], config.keyring) ??
        null)
      : { role: 'admin', name: DEFAULT_TENANT };
  }
  return req.principal ?? undefined;
}

const unauthenticated = (req: AuthedRequest): ApiError =>
  new ApiError(
    'unauthenticated',
    req.headers.authorization ? 'unknown API key' : 'missing API key: send Authorization: Bearer <key>',
  );

/** Tenant keys only (every session route): sets the request's tenant. An admin key → 403. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(@Inject(LB_CONFIG) private readonly config: LbConfig) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    if (!this.config.authEnabled) {
      req.tenant = DEFAULT_TENANT;
      return true;
    }
    const p = principalOf(req, this.config);
    if (!p) throw unauthenticated(req);
    if (p.role !== 'tenant')
      throw new ApiError(
        'permission_denied',
        'admin keys manage pools and the admin UI; sessions need a tenant key (EXECUTOR_API_KEYS)',
      );
    req.tenant = p.name;
    return true;
  }
}

/** Admin keys only (pool registration, the admin UI). A tenant key → 403. */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(@Inject(LB_CONFIG) private readonly config: LbConfig) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const p = principalOf(req, this.config);
    if (!p) throw unauthenticated(req);
    if (p.role !== 'admin')
      throw new ApiError('permission_denied', 'this needs an admin key (EXECUTOR_ADMIN_KEYS)');
    return true;
  }
}

/** Any valid key (GET /v1/pools: tenants see their own numbers only). */
@Injectable()
export class AnyKeyGuard implements CanActivate {
  constructor(@Inject(LB_CONFIG) private readonly config: LbConfig) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    if (!principalOf(req, this.config)) throw unauthenticated(req);
    return true;
  }
}

/** The authenticated tenant of the request. */
export const Tenant = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  const tenant = ctx.switchToHttp().getRequest<AuthedRequest>().tenant;
  if (!tenant) throw new ApiError('unauthenticated', 'not authenticated');
  return tenant;
});

/** The authenticated principal of the request (after AnyKeyGuard/AdminGuard). */
export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const p = ctx.switchToHttp().getRequest<AuthedRequest>().principal;
  if (!p) throw new ApiError('unauthenticated', 'not authenticated');
  return p;
});
