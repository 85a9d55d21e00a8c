import { Type, type Static } from '@sinclair/typebox';
import { loadConfig } from '@executor/platform';

const MiB = 1024 * 1024;

/**
 * Configuration of the persistence service (environment variables, validated at boot).
 * Each option is documented once, here; the README table is generated from this schema.
 */
export const PersistenceConfigSchema = Type.Object({
  /** Redis holding queues and state, e.g. `redis://redis:6379/0` (required). */
  REDIS_URL: Type.String({
    minLength: 1,
    pattern: '^rediss?://',
    description: 'Redis URL for queues and stored state (redis:// or rediss://).',
  }),
  /** BullMQ key prefix of every queue and of the state keys (default `executor`). */
  QUEUE_PREFIX: Type.String({
    minLength: 1,
    pattern: '^[A-Za-z0-9_.-]+$',
    default: 'executor',
    description: 'BullMQ prefix; state keys live under `<prefix>:state:`.',
  }),
  /** Interface of the internal HTTP API (default `127.0.0.1`). */
  HOST: Type.String({
    minLength: 1,
    default: '127.0.0.1',
    description: 'Interface the HTTP API (health, metrics, /internal) binds to.',
  }),
  /** Bearer token of /internal/* (empty: only loopback peers may call it). */
  INTERNAL_API_TOKEN: Type.String({
    default: '',
    description:
      'Bearer token required by /internal/* (≥ 32 characters). Empty (default): /internal/* answers loopback peers only (403 to anyone else); health and metrics stay open.',
  }),
  /** Port of the internal HTTP API (default 8082). */
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 8082, description: 'Port of the HTTP API.' }),
  /** Versions kept per session; older ones are dropped and their unshared blobs freed (default 3). */
  KEEP_VERSIONS: Type.Integer({
    minimum: 1,
    maximum: 100,
    default: 3,
    description: 'Snapshot versions kept per session (older ones and their unshared blobs are freed).',
  }),
  /** State lives until the session's expiresAt plus this many seconds (default 3600). */
  GRACE_SECONDS: Type.Integer({
    minimum: 0,
    default: 3600,
    description: 'State is removed this many seconds after the session expires (expiresAt + grace).',
  }),
  /** Largest snapshot accepted, in logical bytes (sum of file sizes) and encoded bytes (default 512 MiB). */
  MAX_SNAPSHOT_BYTES: Type.Integer({
    minimum: 1,
    default: 512 * MiB,
    description:
      'Largest snapshot (sum of file sizes, and size of the encoded state); larger ones fail `payload_too_large`.',
  }),
  /** Distinct logical bytes one session may keep across its versions (default 1 GiB; 0 = unlimited). */
  SESSION_QUOTA_BYTES: Type.Integer({
    minimum: 0,
    default: 1024 * MiB,
    description:
      'Per-session quota: distinct file bytes referenced by its kept versions (0 = unlimited); over it a snapshot fails `payload_too_large`.',
  }),
  /** Jobs processed in parallel per queue (default 2: the work is CPU-bound compression). */
  CONCURRENCY: Type.Integer({
    minimum: 1,
    maximum: 64,
    default: 2,
    description: 'Jobs processed in parallel per queue (snapshot, restore, admin).',
  }),
  /** brotli quality of stored file blobs, 0-11 (default 1: see README for the measurements). */
  BLOB_BROTLI_QUALITY: Type.Integer({
    minimum: 0,
    maximum: 11,
    default: 1,
    description:
      'brotli quality of stored file blobs (1 = fastest useful; 4 = ~10% smaller, ~2-3x slower per file).',
  }),
  /** Seconds between expiry sweeps (default 30). */
  SWEEP_INTERVAL_SECONDS: Type.Integer({
    minimum: 1,
    default: 30,
    description: 'Seconds between sweeps removing expired state.',
  }),
  /** Seconds an uploaded but not yet committed blob lives (a crash mid-snapshot leaves no garbage) (default 3600). */
  PENDING_BLOB_TTL_SECONDS: Type.Integer({
    minimum: 60,
    default: 3600,
    description:
      'TTL of blobs uploaded by a snapshot that has not committed yet (garbage of a crash expires by itself).',
  }),
});
export type PersistenceConfig = Static<typeof PersistenceConfigSchema>;

/** Injection token of the validated config. */
export const PERSISTENCE_CONFIG = Symbol('PERSISTENCE_CONFIG');

/** Reads and validates the config (throws ConfigError naming every bad variable). */
export function loadPersistenceConfig(env: NodeJS.ProcessEnv = process.env): PersistenceConfig {
  return loadConfig(PersistenceConfigSchema, env);
}
