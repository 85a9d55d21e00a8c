export * from './lib/config/load-config';
export * from './lib/health/redis.health';
export * from './lib/health/health.module';
