import './polyfill.js';
import { NotFoundError } from './errors.js';
import type { RequestOptions, Transport } from './http.js';
import { encodeWorkspacePath, seg } from './paths.js';
import type {
  Execution,
  ExecutionSummary,
  FileEntry,
  InstalledPackage,
  PackageEntry,
  PackageManager,
  PersistResult,
  SessionInfo,
} from './types.js';

/** Default execution timeout of the API (ms). */
export const DEFAULT_EXECUTION_TIMEOUT_MS = 30_000;
/**
 * Extra time the HTTP request of an execution may take beyond the execution's own timeout
 * (queueing, the platform's own grace period) before the client gives up (ms).
 */
export const EXECUTION_REQUEST_GRACE_MS = 30_000;

export interface ExecuteOptions extends RequestOptions {
  /** Execution timeout on the platform (ms, default 30 000, max 300 000). Exceeding it is `timedOut: true`, not an error. */
  timeoutMs?: number;
  /** Language of the snippet when the template runs several. */
  language?: string;
  /** Extra environment variables for this execution only. */
  env?: Record<string, string>;
}

export interface InstallOptions extends RequestOptions {
  /** pip or npm (default: the template's). */
  manager?: PackageManager;
}

/** Anything `files.write` accepts as content. */
export type FileData = string | Uint8Array | ArrayBuffer | ArrayBufferView | Blob;

/** The workspace of a session: files the code reads and writes (its working directory). */
export class SessionFiles {
  constructor(
    private readonly http: Transport,
    private readonly base: () => string,
  ) {}

  /** Writes (creates or replaces) a file; parent directories are created. Binary-safe. */
  async write(path: string, data: FileData, options?: RequestOptions): Promise<void> {
    const bytes = await toBytes(data);
    await this.http.none({
      method: 'PUT',
      path: `${this.base()}/files/${encodeWorkspacePath(path)}`,
      bytes,
      options,
    });
  }

  /** Reads a file's bytes (NotFoundError if absent). */
  read(path: string, options?: RequestOptions): Promise<Uint8Array> {
    return this.http.bytes({
      method: 'GET',
      path: `${this.base()}/files/${encodeWorkspacePath(path)}`,
      options,
    });
  }

  /** Reads a file as UTF-8 text. */
  async readText(path: string, options?: RequestOptions): Promise<string> {
    return new TextDecoder().decode(await this.read(path, options));
  }

  /** Every file of the workspace, recursively. */
  async list(options?: RequestOptions): Promise<FileEntry[]> {
    const res = await this.http.json<{ items: FileEntry[] }>({
      method: 'GET',
      path: `${this.base()}/files`,
      options,
    });
    return res.items;
  }

  /** Deletes a file. */
  remove(path: string, options?: RequestOptions): Promise<void> {
    return this.http.none({
      method: 'DELETE',
      path: `${this.base()}/files/${encodeWorkspacePath(path)}`,
      options,
    });
  }
}

/** Packages installed into the session (they are part of its snapshots). */
export class SessionPackages {
  constructor(
    private readonly http: Transport,
    private readonly base: () => string,
  ) {}

  /** Installs packages (`"name"`, `"name==1.2"`, `"name@1.2"`) and answers what got installed. */
  async install(packages: string[], options: InstallOptions = {}): Promise<InstalledPackage[]> {
    const { manager, ...rest } = options;
    const res = await this.http.json<{ installed: InstalledPackage[] }>({
      method: 'POST',
      path: `${this.base()}/packages`,
      json: { packages, ...(manager ? { manager } : {}) },
      options: rest,
      timeoutMs: 10 * 60_000,
    });
    return res.installed;
  }

  async list(options?: RequestOptions): Promise<PackageEntry[]> {
    const res = await this.http.json<{ items: PackageEntry[] }>({
      method: 'GET',
      path: `${this.base()}/packages`,
      options,
    });
    return res.items;
  }
}

/**
 * A live session: a kernel, its workspace and packages on one pod. Close it when done
 * (`await using session = await client.createSession(...)` does it for you).
 */
export class Session {
  readonly files: SessionFiles;
  readonly packages: SessionPackages;
  private current: SessionInfo;
  private closed = false;

  constructor(
    private readonly http: Transport,
    info: SessionInfo,
  ) {
    this.current = info;
    const base = (): string => `/v1/sessions/${seg(this.current.id, 'session id')}`;
    this.files = new SessionFiles(http, base);
    this.packages = new SessionPackages(http, base);
  }

  get id(): string {
    return this.current.id;
  }

  /** The session as last seen from the server (updated by `refresh()` and `extend()`). */
  get info(): SessionInfo {
    return this.current;
  }

  private get path(): string {
    return `/v1/sessions/${seg(this.current.id, 'session id')}`;
  }

  /**
   * Runs code in the session and resolves when it finished. A non-zero exit code or a timeout of
   * the code are results, not errors. Retried after a network error with the same
   * `Idempotency-Key`: the platform runs it once.
   */
  execute(code: string, options: ExecuteOptions = {}): Promise<Execution> {
    const { timeoutMs, language, env, ...rest } = options;
    const execTimeout = timeoutMs ?? DEFAULT_EXECUTION_TIMEOUT_MS;
    return this.http.json<Execution>({
      method: 'POST',
      path: `${this.path}/executions`,
      json: {
        code,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        ...(language ? { language } : {}),
        ...(env ? { env } : {}),
      },
      options: rest,
      timeoutMs: execTimeout + EXECUTION_REQUEST_GRACE_MS,
    });
  }

  /** The session's executions, oldest first. */
  async executions(options?: RequestOptions): Promise<ExecutionSummary[]> {
    const res = await this.http.json<{ items: ExecutionSummary[] }>({
      method: 'GET',
      path: `${this.path}/executions`,
      options,
    });
    return res.items;
  }

  /** Stores a snapshot now; resolves once it is stored. */
  persist(options?: RequestOptions): Promise<PersistResult> {
    return this.http.json<PersistResult>({
      method: 'POST',
      path: `${this.path}/persist`,
      options,
      timeoutMs: 5 * 60_000,
    });
  }

  /** Sets the idle TTL (the expiry becomes now + ttlSeconds). */
  async extend(ttlSeconds: number, options?: RequestOptions): Promise<SessionInfo> {
    this.current = await this.http.json<SessionInfo>({
      method: 'PATCH',
      path: this.path,
      json: { ttlSeconds },
      options,
    });
    return this.current;
  }

  /** Fetches the session again (migrations, lastSnapshotAt, expiry). */
  async refresh(options?: RequestOptions): Promise<SessionInfo> {
    this.current = await this.http.json<SessionInfo>({ method: 'GET', path: this.path, options });
    return this.current;
  }

  /**
   * Deletes the session (kernel, files, persisted state). Idempotent: closing a session that is
   * already gone (closed, expired) resolves.
   */
  async close(options?: RequestOptions): Promise<void> {
    if (this.closed) return;
    try {
      await this.http.none({ method: 'DELETE', path: this.path, options });
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    this.closed = true;
  }

  /** `await using session = ...` closes the session at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  toJSON(): SessionInfo {
    return this.current;
  }
}

async function toBytes(data: FileData): Promise<Uint8Array> {
  if (typeof data === 'string') return new TextEncoder().encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (typeof Blob !== 'undefined' && data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  throw new TypeError('file data: expected a string, Uint8Array/Buffer, ArrayBuffer, typed array or Blob');
}
