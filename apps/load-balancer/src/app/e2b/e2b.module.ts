import { Module } from '@nestjs/common';
import { SessionsModule } from '../sessions/sessions.module';
import { E2bApiKeyGuard } from './control/e2b-auth.guard';
import { E2bSandboxesController } from './control/sandboxes.controller';
import { SandboxPlane } from './sandbox/sandbox-plane.service';
import { SandboxResolver } from './sandbox/sandbox-resolver.service';

/**
 * E2B's protocol over the platform's own session services (docs/e2b.md): the control plane here
 * (Nest controllers, `X-API-KEY`), the sandbox plane (envd + code interpreter, recognised by
 * `E2b-Sandbox-Id`) registered on the fastify instance before any other route.
 */
@Module({
  imports: [SessionsModule],
  controllers: [E2bSandboxesController],
  providers: [E2bApiKeyGuard, SandboxResolver, SandboxPlane],
})
export class E2bModule {}
