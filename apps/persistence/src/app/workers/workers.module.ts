import { Global, Module } from '@nestjs/common';
import { WorkerFactory } from './worker-factory';

@Global()
@Module({ providers: [WorkerFactory], exports: [WorkerFactory] })
export class WorkersModule {}
