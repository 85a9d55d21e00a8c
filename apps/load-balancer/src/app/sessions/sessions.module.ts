import { Module } from '@nestjs/common';
import { ExecutionsController } from '../executions/executions.controller';
import { FilesController } from '../files/files.controller';
import { PackagesController } from '../packages/packages.controller';
import { SessionEventsService } from '../events/session-events.service';
import { PodGateway } from '../routing/pod-gateway.service';
import { RouterService } from '../routing/router.service';
import { MigrationService } from './migration.service';
import { SessionCaller } from './session-caller.service';
import { SessionsController } from './sessions.controller';
import { SessionsService } from './sessions.service';

/** Sessions and everything that runs in one (executions, files, packages): routing, stickiness, migration. */
@Module({
  controllers: [SessionsController, ExecutionsController, FilesController, PackagesController],
  providers: [
    SessionsService,
    SessionCaller,
    MigrationService,
    RouterService,
    PodGateway,
    SessionEventsService,
  ],
  exports: [
    SessionsService,
    SessionCaller,
    MigrationService,
    SessionEventsService,
    RouterService,
    PodGateway,
  ],
})
export class SessionsModule {}
