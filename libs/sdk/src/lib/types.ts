/** Shapes of the public API (API.md). Servers may add fields; they are kept on the objects. */

export type StringMap = Record<string, string>;

export interface Migration {
  from: string;
  to: string;
  at: string;
  reason: string;
}

export interface SessionInfo {
  id: string;
  template: string;
  pool: string;
  pod: string;
  region: string;
  persist: boolean;
  status: string;
  createdAt: string;
  expiresAt: string;
  env: StringMap;
  metadata: StringMap;
  /** Only on `GET /v1/sessions/{id}` (i.e. after `refresh()` / `getSession()`). */
  migrations?: Migration[];
  lastSnapshotAt?: string | null;
  [field: string]: unknown;
}

export interface CreateSessionParams {
  /** python, python-data, node, typescript, bash, c, cpp, java, rust, go, ruby, r. */
  template: string;
  region?: string;
  /** Snapshot the session so it survives its pod (default true, server side). */
  persist?: boolean;
  /** Idle TTL in seconds (default 300, server side); every use moves the expiry forward. */
  ttlSeconds?: number;
  env?: StringMap;
  metadata?: StringMap;
}

export interface Execution {
  id: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** The code ran longer than its `timeoutMs` and was killed (the session stays usable). */
  timedOut: boolean;
  /** stdout or stderr was cut at 1 MiB. */
  truncated: boolean;
  [field: string]: unknown;
}

export interface ExecutionSummary {
  id: string;
  code: string;
  exitCode: number;
  durationMs: number;
  at: string;
}

export interface FileEntry {
  path: string;
  size: number;
  modifiedAt: string;
}

export type PackageManager = 'pip' | 'npm';

export interface InstalledPackage {
  name: string;
  version: string;
}

export interface PackageEntry {
  manager: PackageManager;
  name: string;
  version: string;
}

export interface PersistResult {
  version: number;
  bytes: number;
  at: string;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface PoolInfo {
  name: string;
  template: string;
  region: string;
  weight: number;
  healthy: boolean;
  circuit: CircuitState;
  pods: number;
  sessions: number;
  connections: number;
  queueDepth: number;
  /** Per-pod detail (only from `pools.get(name)`); its shape is the server's. */
  podDetails?: unknown;
  [field: string]: unknown;
}

export interface RegisterPoolParams {
  name: string;
  template: string;
  region?: string;
  weight?: number;
}
