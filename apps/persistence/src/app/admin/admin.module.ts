import { Module } from '@nestjs/common';
import { AdminProcessor } from './admin.processor';

@Module({ providers: [AdminProcessor] })
export class AdminModule {}
