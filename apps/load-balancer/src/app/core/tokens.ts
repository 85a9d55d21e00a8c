/** Injection token of the shared ioredis client (commands only; never blocking). */
export const REDIS = Symbol('REDIS');
/** Injection token of the replica's single JobRpcClient. */
export const RPC = Symbol('RPC');
