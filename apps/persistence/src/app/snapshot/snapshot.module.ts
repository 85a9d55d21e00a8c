import { Module } from '@nestjs/common';
import { SnapshotProcessor } from './snapshot.processor';

@Module({ providers: [SnapshotProcessor] })
export class SnapshotModule {}
