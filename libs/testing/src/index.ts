export * from './lib/redis';
export * from './lib/wheel';
