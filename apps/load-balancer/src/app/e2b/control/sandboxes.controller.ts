import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Query,
  Res,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Tenant } from '../../auth/auth';
import { ApiError } from '../../http/api-error';
import { validateBody } from '../../http/validate';
import { checkSessionId, SessionsService } from '../../sessions/sessions.service';
import { SessionCaller } from '../../sessions/session-caller.service';
import { SessionStore } from '../../state/session-store';
import { DEFAULT_TIMEOUT_SECONDS } from '../e2b-protocol';
import { E2bApiKeyGuard } from './e2b-auth.guard';
import { E2bErrorFilter } from './e2b-error';
import { pageSandboxes, parseListQuery } from './list-query';
import { ConnectBody, NewSandboxBody, TimeoutBody } from './schemas';
import {
  detailView,
  listedView,
  sandboxView,
  type E2bListedSandbox,
  type E2bSandbox,
  type E2bSandboxDetail,
} from './sandbox-view';

/** The template of `Sandbox.create()` without a name. */
const DEFAULT_TEMPLATE = 'base';

/**
 * E2B's control plane (E2B-COMPAT §b): an E2B sandbox is a session of this API, with the same
 * tenancy (another tenant's sandbox answers 404 `{code: 404}` like a missing one), placement,
 * persistence and limits. Timeouts are absolute (use does not extend them; setTimeout resets them).
 */
@Controller()
@UseGuards(E2bApiKeyGuard)
@UseFilters(E2bErrorFilter)
export class E2bSandboxesController {
  constructor(
    private readonly sessions: SessionsService,
    private readonly caller: SessionCaller,
    private readonly store: SessionStore,
  ) {}

  @Post('v2/sandboxes')
  @HttpCode(201)
  async create(
    @Tenant() tenant: string,
    @Body() raw: unknown,
    @Headers('x-client-region') region?: string,
  ): Promise<E2bSandbox> {
    const body = validateBody(NewSandboxBody, raw ?? {});
    refuseUnsupported(body);
    const s = await this.sessions.createRecord(
      tenant,
      {
        template: body.templateID ?? DEFAULT_TEMPLATE,
        ttlSeconds: body.timeout ?? DEFAULT_TIMEOUT_SECONDS,
        persist: true,
        ...(body.envVars ? { env: body.envVars } : {}),
        ...(body.metadata ? { metadata: body.metadata } : {}),
      },
      region || undefined,
      { fixedExpiry: true, issueTokens: true },
    );
    return sandboxView(s, await this.sessions.tokens(s));
  }

  /** Running → 200 (the timeout only extends the expiry); paused → resumed, 201. */
  @Post('v2/sandboxes/:id/connect')
  async connect(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Body() raw: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<E2bSandbox> {
    const body = validateBody(ConnectBody, raw ?? {});
    const { session, resumed } = await this.sessions.resume(tenant, checkSessionId(id), body.timeout);
    let s = session;
    if (!resumed && body.timeout !== undefined && Date.now() + body.timeout * 1000 > s.expiresAt)
      s = (await this.caller.load(tenant, id, { newTtlSeconds: body.timeout })).session;
    void reply.status(resumed ? 201 : 200);
    return sandboxView(s, await this.sessions.tokens(s));
  }

  @Get('v2/sandboxes')
  async list(
    @Tenant() tenant: string,
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<E2bListedSandbox[]> {
    const q = parseListQuery(query);
    const page = pageSandboxes(await this.store.listForTenant(tenant), q);
    if (page.next) void reply.header('x-next-token', page.next);
    return page.items.map(listedView);
  }

  /** The v1 list: running sandboxes only, no paging. */
  @Get('sandboxes')
  async listV1(@Tenant() tenant: string): Promise<E2bListedSandbox[]> {
    const all = await this.store.listForTenant(tenant);
    return pageSandboxes(all, {
      ...parseListQuery({}),
      states: ['running'],
      limit: Number.MAX_SAFE_INTEGER,
    }).items.map(listedView);
  }

  @Get('sandboxes/:id')
  async info(@Tenant() tenant: string, @Param('id') id: string): Promise<E2bSandboxDetail> {
    const { session } = await this.caller.load(tenant, checkSessionId(id), { peek: true });
    return detailView(session);
  }

  @Delete('sandboxes/:id')
  @HttpCode(204)
  async kill(@Tenant() tenant: string, @Param('id') id: string): Promise<void> {
    await this.sessions.delete(tenant, id);
  }

  /** Absolute expiry reset: now + timeout (may shorten it). */
  @Post('sandboxes/:id/timeout')
  @HttpCode(204)
  async setTimeout(@Tenant() tenant: string, @Param('id') id: string, @Body() raw: unknown): Promise<void> {
    const body = validateBody(TimeoutBody, raw ?? {});
    await this.caller.load(tenant, checkSessionId(id), { newTtlSeconds: body.timeout });
  }

  /** Persist, then release the pod slot; 409 when already paused. */
  @Post('sandboxes/:id/pause')
  @HttpCode(204)
  async pause(@Tenant() tenant: string, @Param('id') id: string): Promise<void> {
    if (!(await this.sessions.pause(tenant, id)))
      throw new ApiError('conflict', `sandbox "${id}" is already paused`);
  }

  /** The v1 resume (deprecated in the SDK): 201, or 409 when it is not paused. */
  @Post('sandboxes/:id/resume')
  @HttpCode(201)
  async resumeV1(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Body() raw: unknown,
  ): Promise<E2bSandbox> {
    const body = validateBody(ConnectBody, raw ?? {});
    const { session, resumed } = await this.sessions.resume(tenant, checkSessionId(id), body.timeout);
    if (!resumed) throw new ApiError('conflict', `sandbox "${id}" is already running`);
    return sandboxView(session, await this.sessions.tokens(session));
  }

  /** Metrics are not collected per sandbox: an empty series (the SDK's getMetrics returns []). */
  @Get('sandboxes/:id/metrics')
  async metrics(@Tenant() tenant: string, @Param('id') id: string): Promise<unknown[]> {
    await this.caller.load(tenant, checkSessionId(id), { peek: true });
    return [];
  }
}

/** Features of NewSandbox the platform does not provide: refused, never silently ignored. */
function refuseUnsupported(body: NewSandboxBody): void {
  if (body.allow_internet_access === true)
    throw new ApiError(
      'invalid_argument',
      'allow_internet_access: sandboxes have no network access on this platform',
    );
  if (body.autoPause)
    throw new ApiError(
      'invalid_argument',
      'autoPause: sandboxes are killed on timeout (pause them explicitly)',
    );
  if (body.autoResume?.enabled)
    throw new ApiError('invalid_argument', 'autoResume: not supported (resume with connect)');
  if (body.mcp !== undefined && body.mcp !== null)
    throw new ApiError('invalid_argument', 'mcp: the MCP gateway is not available');
  if (body.volumeMounts?.length)
    throw new ApiError('invalid_argument', 'volumeMounts: volumes are not available');
}
