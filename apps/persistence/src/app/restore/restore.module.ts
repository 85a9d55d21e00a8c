import { Module } from '@nestjs/common';
import { RestoreProcessor } from './restore.processor';

@Module({ providers: [RestoreProcessor] })
export class RestoreModule {}
