import { Body, Controller, Get, HttpCode, Inject, Param, Post, UseGuards } from '@nestjs/common';
import { PodJobDefs, type PackagesInstallResult, type PackagesListResult } from '@executor/queues';
import { ApiKeyGuard, Tenant } from '../auth/auth';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { InstallPackagesBody } from '../http/schemas';
import { validateBody } from '../http/validate';
import { SessionCaller } from '../sessions/session-caller.service';
import { checkSessionId } from '../sessions/sessions.service';

/** Package installs take long: this many times POD_CALL_TIMEOUT_MS. */
const INSTALL_TIMEOUT_FACTOR = 10;

@Controller('v1/sessions/:id/packages')
@UseGuards(ApiKeyGuard)
export class PackagesController {
  constructor(
    private readonly caller: SessionCaller,
    @Inject(LB_CONFIG) private readonly config: LbConfig,
  ) {}

  @Post()
  @HttpCode(200)
  async install(
    @Tenant() tenant: string,
    @Param('id') id: string,
    @Body() raw: unknown,
  ): Promise<PackagesInstallResult> {
    const body = validateBody(InstallPackagesBody, raw);
    const { result } = await this.caller.call(
      tenant,
      checkSessionId(id),
      PodJobDefs.packagesInstall,
      (s) => ({
        sessionId: s.id,
        tenant: s.tenant,
        packages: body.packages,
        ...(body.manager ? { manager: body.manager } : {}),
      }),
      this.config.POD_CALL_TIMEOUT_MS * INSTALL_TIMEOUT_FACTOR,
    );
    return { installed: result.installed };
  }

  @Get()
  async list(@Tenant() tenant: string, @Param('id') id: string): Promise<PackagesListResult> {
    const { result } = await this.caller.call(
      tenant,
      checkSessionId(id),
      PodJobDefs.packagesList,
      (s) => ({ sessionId: s.id, tenant: s.tenant }),
      this.config.POD_CALL_TIMEOUT_MS,
    );
    return { items: result.items };
  }
}
