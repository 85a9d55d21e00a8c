/** ioredis client for the platform's own keys (transfers, heartbeats). */
export const REDIS = Symbol('REDIS');
/** JobRpcClient towards the persistence service. */
export const PERSISTENCE_RPC = Symbol('PERSISTENCE_RPC');
/** Extra readiness checks (worker running and accepting). */
export const READINESS_CHECKS = Symbol('READINESS_CHECKS');
