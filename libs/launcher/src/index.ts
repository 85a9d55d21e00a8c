export * from './lib/platform';
export * from './lib/processes';
export * from './lib/redis-server';
export * from './lib/pools';
