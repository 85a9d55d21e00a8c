/**
 * The SessionState model (the seed's fields) shared by the executor and the persistence service.
 * This file is the contract; codecs and workspace capture live beside it.
 */

/** Current schema version written by `encodeState`; older versions still decode. */
export const SESSION_STATE_SCHEMA_VERSION = 1;

/** One entry of a workspace tree, relative to the workspace root (POSIX separators, no `..`). */
export interface WorkspaceEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits (e.g. 0o755). */
  mode: number;
  /** Bytes (files only; 0 otherwise). */
  size: number;
  mtimeMs: number;
  /** sha256 hex of the content (files only). */
  hash?: string;
  /** Link target, relative and inside the workspace (symlinks only). */
  target?: string;
  /**
   * File content. Present for every file in a full state; in a delta only for files whose
   * hash is not in the base version (the others are referenced by `hash`).
   */
  content?: Buffer;
  /**
   * Set by capture/diff on files modified within RACY_WINDOW_MS before they were read: the
   * next diff re-hashes them instead of trusting size+mtime (optional, added compatibly).
   */
  racy?: boolean;
}

export interface ExecutionRecord {
  id: string;
  code: string;
  exitCode: number;
  durationMs: number;
  /** ISO time. */
  at: string;
}

export interface InstalledPackageRecord {
  manager: 'pip' | 'npm';
  name: string;
  version: string;
}

export interface SessionState {
  schemaVersion: number;
  sessionId: string;
  tenant: string;
  poolName: string;
  podName: string;
  template: string;
  /** ISO times. */
  createdAt: string;
  expiresAt: string;
  ttlSeconds: number;
  persist: boolean;
  /** Workspace tree (see WorkspaceEntry.content for full vs delta). */
  files: WorkspaceEntry[];
  /** Environment variables of the session. */
  env: Record<string, string>;
  /** Execution history, oldest first. */
  history: ExecutionRecord[];
  /** Packages installed into the session. */
  packages: InstalledPackageRecord[];
  metadata: Record<string, string>;
  /**
   * Set on a delta: the version it is relative to; `files` lists the whole tree, with content
   * only for new hashes. Null/absent on a full state.
   */
  baseVersion?: number | null;
}
