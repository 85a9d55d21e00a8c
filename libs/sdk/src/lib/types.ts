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

/** A rich result, Jupyter-style: mime type → data (`image/png` base64, `application/json` a value), plus `isMain`. */
export interface ResultItem {
  /** True for the value of the code's last expression; false for display() calls and figures. */
  isMain: boolean;
  'text/plain'?: string;
  'text/html'?: string;
  'text/markdown'?: string;
  'image/png'?: string;
  'image/jpeg'?: string;
  'image/svg+xml'?: string;
  'application/json'?: unknown;
  [mime: string]: unknown;
}

/** A kernel error (exception): class name, message, formatted traceback. */
export interface ExecutionError {
  name: string;
  value: string;
  traceback: string;
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
  /** Rich results in order: display calls and figures, then the last expression (`isMain`). */
  results: ResultItem[];
  /** The kernel error, if the code raised one. */
  error?: ExecutionError;
  /** The kernel's execution counter (per context). */
  executionCount?: number;
  /** Context (kernel) the code ran in. */
  context?: string;
  [field: string]: unknown;
}

/** One event of a streamed execution (`session.executeStream`), ending with `end`. */
export type ExecutionEvent =
  | { type: 'stdout' | 'stderr'; text: string; ts: number }
  | { type: 'result'; result: ResultItem }
  | { type: 'error'; error: ExecutionError }
  | { type: 'end'; execution: Execution };

/** A context: an independent kernel of a session. */
export interface ContextInfo {
  id: string;
  language: string;
  cwd: string;
}

/** How a command ended. */
export interface CommandEnd {
  /** The exit code; -1 when a signal ended it. */
  exitCode: number;
  /** True when it exited by itself. */
  exited: boolean;
  /** `exit status N`, `signal: killed`, … */
  status: string;
  error?: string;
}

export interface CommandResult extends CommandEnd {
  pid: number;
  stdout: string;
  stderr: string;
}

export interface ProcessInfo {
  pid: number;
  procId: string;
  tag?: string;
  cmd: string;
  args: string[];
  envs: StringMap;
  cwd: string;
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
