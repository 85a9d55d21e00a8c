export * from './lib/npm-registry';
export * from './lib/pip-index';
export * from './lib/redis';
export * from './lib/wheel';
export * from './lib/workspace-writers';
