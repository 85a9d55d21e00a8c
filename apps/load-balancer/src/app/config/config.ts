import { hostname } from 'node:os';
import { Type, type Static } from '@sinclair/typebox';
import { ConfigError, loadConfig } from '@executor/platform';

const MiB = 1024 * 1024;

/**
 * Configuration of the load balancer (environment variables). Each option is documented once,
 * here, with its default; `describeConfig(LbConfigSchema)` renders the README table.
 */
export const LbConfigSchema = Type.Object({
  REDIS_URL: Type.String({
    minLength: 1,
    description: 'Redis URL (state, BullMQ, heartbeats): redis://host:port[/db].',
  }),
  QUEUE_PREFIX: Type.String({
    default: 'executor',
    minLength: 1,
    description:
      'BullMQ key prefix shared by every service; also prefixes the load balancer keys (`<prefix>:lb:*`).',
  }),
  HOST: Type.String({ default: '127.0.0.1', description: 'Address the HTTP server binds to.' }),
  PORT: Type.Integer({
    default: 8080,
    minimum: 0,
    maximum: 65535,
    description: 'HTTP port (0 = any free port).',
  }),
  REPLICA_ID: Type.String({
    default: '',
    description: 'Name of this replica (reply channel, locks, logs). Empty = `<hostname>-<pid>`.',
  }),
  EXECUTOR_API_KEYS: Type.String({
    default: '',
    description: 'Comma-separated `tenant:key` pairs accepted as `Authorization: Bearer <key>`.',
  }),
  EXECUTOR_AUTH: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')], {
    default: 'enabled',
    description:
      '`disabled` turns auth off (every caller is tenant `default`). With `enabled` and no keys the service refuses to start.',
  }),
  MAX_BODY_BYTES: Type.Integer({
    default: 100 * MiB,
    minimum: 1024,
    description: 'Largest JSON request body (bytes); larger → 413.',
  }),
  MAX_FILE_BYTES: Type.Integer({
    default: 100 * MiB,
    minimum: 1,
    description: 'Largest file upload (raw body of PUT …/files/{path}, bytes); larger → 413.',
  }),
  MAX_CODE_BYTES: Type.Integer({
    default: 1 * MiB,
    minimum: 1,
    description: 'Largest `code` of an execution (UTF-8 bytes); larger → 413.',
  }),
  REGION_DISTANCES: Type.String({
    default: '',
    description:
      'Region distance table, JSON `{"a":{"b":1}}` or `a:b=1,a:c=5` (symmetric). Used to prefer the nearest region when the requested one has no healthy pool.',
  }),
  DEFAULT_REGION: Type.String({
    default: '',
    description:
      'Region assumed for requests that name none (no `region`, no `X-Client-Region`). Empty = no preference.',
  }),
  SESSION_SWEEP_INTERVAL_MS: Type.Integer({
    default: 1000,
    minimum: 50,
    description: 'How often each replica looks for expired sessions and for sessions on dead pods (ms).',
  }),
  JOB_TIMEOUT_GRACE_MS: Type.Integer({
    default: 10_000,
    minimum: 0,
    description:
      'Extra time an execution job may take beyond its `timeoutMs` before the call fails with 504 (ms).',
  }),
  POD_CALL_TIMEOUT_MS: Type.Integer({
    default: 30_000,
    minimum: 100,
    description: 'Timeout of every other pod job (open, files, persist, close) (ms); packages get 10× this.',
  }),
  BREAKER_FAILURE_THRESHOLD: Type.Integer({
    default: 5,
    minimum: 1,
    description: 'Consecutive infrastructure failures that open a pool circuit.',
  }),
  BREAKER_RECOVERY_TIMEOUT_MS: Type.Integer({
    default: 30_000,
    minimum: 0,
    description: 'Time an open pool circuit waits before half-open (ms).',
  }),
  BREAKER_HALF_OPEN_REQUESTS: Type.Integer({
    default: 3,
    minimum: 1,
    description: 'Trial requests let through while half-open; all must succeed to close.',
  }),
  HISTORY_LIMIT: Type.Integer({
    default: 1000,
    minimum: 1,
    description: 'Executions kept per session for GET …/executions (oldest dropped).',
  }),
  ADMIN_UI: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')], {
    default: 'enabled',
    description: 'Serve the bull-board queue UI at /admin/queues.',
  }),
  ADMIN_REFRESH_MS: Type.Integer({
    default: 5000,
    minimum: 100,
    description: 'How often the admin UI re-discovers pod queues from heartbeats (ms).',
  }),
  E2B_API: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')], {
    default: 'enabled',
    description:
      "Serve E2B's protocol on the same origin (control plane with `X-API-KEY`; sandbox traffic recognised by `E2b-Sandbox-Id`), see docs/e2b.md.",
  }),
  PAUSED_SESSION_TTL_SECONDS: Type.Integer({
    default: 7 * 24 * 3600,
    minimum: 60,
    description:
      'How long a paused session (E2B pause) is kept, with its persisted state, before it expires (seconds).',
  }),
  E2B_EXECUTION_TIMEOUT_MS: Type.Integer({
    default: 300_000,
    minimum: 1000,
    maximum: 300_000,
    description:
      "Longest run of one E2B `runCode` (`POST /execute`, whose protocol carries no timeout); the SDK's own timeoutMs ends the stream earlier (ms).",
  }),
  LOG_LEVEL: Type.Union(
    [Type.Literal('error'), Type.Literal('warn'), Type.Literal('log'), Type.Literal('debug')],
    { default: 'log', description: 'Most verbose Nest log level printed.' },
  ),
});
export type LbConfigEnv = Static<typeof LbConfigSchema>;

/** Parsed, derived configuration handed to the app. */
export interface LbConfig extends LbConfigEnv {
  replicaId: string;
  /** API key → tenant. */
  keys: Map<string, string>;
  authEnabled: boolean;
  regionDistances: RegionDistances;
}

/** Symmetric region distance table: `distances[a][b]`. */
export type RegionDistances = Record<string, Record<string, number>>;

export const LB_CONFIG = Symbol('LB_CONFIG');

const TENANT_RE = /^[A-Za-z0-9._-]{1,128}$/;

/** Parses `tenant:key,tenant:key`; throws a ConfigError naming the bad entry. */
export function parseApiKeys(raw: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const entry of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const idx = entry.indexOf(':');
    const tenant = idx > 0 ? entry.slice(0, idx) : '';
    const key = idx > 0 ? entry.slice(idx + 1) : '';
    if (!TENANT_RE.test(tenant) || key.length < 8) {
      throw new ConfigError([
        `EXECUTOR_API_KEYS: entry "${entry.slice(0, 40)}" must be tenant:key (tenant [A-Za-z0-9._-], key ≥ 8 chars)`,
      ]);
    }
    if (keys.has(key))
      throw new ConfigError([`EXECUTOR_API_KEYS: the key of tenant "${tenant}" is used twice`]);
    keys.set(key, tenant);
  }
  return keys;
}

/** Parses REGION_DISTANCES (JSON object of objects, or `a:b=1,a:c=5`), made symmetric. */
export function parseRegionDistances(raw: string): RegionDistances {
  const out: RegionDistances = {};
  const set = (a: string, b: string, d: number): void => {
    if (!a || !b || !Number.isFinite(d) || d < 0) {
      throw new ConfigError([
        `REGION_DISTANCES: bad entry ${a}:${b}=${d} (regions must be non-empty, distance a number ≥ 0)`,
      ]);
    }
    (out[a] ??= {})[b] = d;
    (out[b] ??= {})[a] = d;
  };
  const text = raw.trim();
  if (!text) return out;
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new ConfigError([`REGION_DISTANCES: invalid JSON (${(err as Error).message})`]);
    }
    for (const [a, row] of Object.entries(parsed as Record<string, unknown>)) {
      if (typeof row !== 'object' || row === null)
        throw new ConfigError([`REGION_DISTANCES: "${a}" must map to an object of distances`]);
      for (const [b, d] of Object.entries(row)) set(a, b, Number(d));
    }
    return out;
  }
  for (const entry of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([^:=\s]+):([^:=\s]+)=(\S+)$/.exec(entry);
    if (!m) throw new ConfigError([`REGION_DISTANCES: entry "${entry}" must look like a:b=1`]);
    set(m[1] as string, m[2] as string, Number(m[3]));
  }
  return out;
}

/** Loads and validates the whole configuration (throws ConfigError with every problem). */
export function loadLbConfig(env: NodeJS.ProcessEnv = process.env): LbConfig {
  const base = loadConfig(LbConfigSchema, env);
  const keys = parseApiKeys(base.EXECUTOR_API_KEYS);
  const authEnabled = base.EXECUTOR_AUTH === 'enabled';
  if (authEnabled && keys.size === 0) {
    throw new ConfigError([
      'EXECUTOR_API_KEYS: no API keys configured; set tenant:key pairs, or EXECUTOR_AUTH=disabled to run without auth',
    ]);
  }
  return {
    ...base,
    replicaId: base.REPLICA_ID || `${hostname()}-${process.pid}`,
    keys,
    authEnabled,
    regionDistances: parseRegionDistances(base.REGION_DISTANCES),
  };
}
