import { Module } from '@nestjs/common';
import { ExecutionsController } from '../executions/executions.controller';
import { ExecutionsService } from '../executions/executions.service';
import { CommandsController } from '../commands/commands.controller';
import { ProcessesService } from '../commands/processes.service';
import { ContextsController } from '../contexts/contexts.controller';
import { ContextsService } from '../contexts/contexts.service';
import { FilesService } from '../files/files.service';
import { FilesController } from '../files/files.controller';
import { PackagesController } from '../packages/packages.controller';
import { SessionEventsService } from '../events/session-events.service';
import { PodGateway } from '../routing/pod-gateway.service';
import { RouterService } from '../routing/router.service';
import { MigrationService } from './migration.service';
import { SessionCaller } from './session-caller.service';
import { SessionsController } from './sessions.controller';
import { SessionsService } from './sessions.service';

/** Sessions and everything that runs in one (executions, files, packages, commands, contexts): routing, stickiness, migration. */
@Module({
  controllers: [
    SessionsController,
    ExecutionsController,
    FilesController,
    PackagesController,
    CommandsController,
    ContextsController,
  ],
  providers: [
    ExecutionsService,
    ProcessesService,
    ContextsService,
    FilesService,
    SessionsService,
    SessionCaller,
    MigrationService,
    RouterService,
    PodGateway,
    SessionEventsService,
  ],
  exports: [
    ExecutionsService,
    ProcessesService,
    ContextsService,
    FilesService,
    SessionsService,
    SessionCaller,
    MigrationService,
    SessionEventsService,
    RouterService,
    PodGateway,
  ],
})
export class SessionsModule {}
