export * from './lib/banner';
export * from './lib/keys';
export * from './lib/local-defaults';
export * from './lib/platform';
export * from './lib/processes';
export * from './lib/redis-server';
export * from './lib/pools';
