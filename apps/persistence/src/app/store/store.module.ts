import { Global, Module } from '@nestjs/common';
import { PersistenceMetrics } from '../metrics/persistence-metrics';
import { StateStore } from './state-store';

/** The state store and the metrics every feature records into. */
@Global()
@Module({ providers: [StateStore, PersistenceMetrics], exports: [StateStore, PersistenceMetrics] })
export class StoreModule {}
