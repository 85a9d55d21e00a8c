export * from './lib/connection';
export * from './lib/names';
export * from './lib/schemas';
export * from './lib/errors';
export * from './lib/validate';
export * from './lib/transfer';
export * from './lib/heartbeat';
export * from './lib/rpc';
