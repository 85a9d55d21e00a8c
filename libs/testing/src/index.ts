export * from './lib/redis';
export * from './lib/wheel';
export * from './lib/workspace-writers';
