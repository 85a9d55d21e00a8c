/** The ioredis client for the service's own commands (state store, transfers, replies). */
export const REDIS = 'PERSISTENCE_REDIS';
