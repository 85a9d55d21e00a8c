import './polyfill.js';
import { ExecutorError, NotFoundError, errorFromResponse } from './errors.js';
import type { RequestOptions, Transport } from './http.js';
import { encodeWorkspacePath, seg } from './paths.js';
import type {
  CommandEnd,
  CommandResult,
  ContextInfo,
  Execution,
  ExecutionError,
  ExecutionEvent,
  ExecutionSummary,
  ProcessInfo,
  ResultItem,
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
  /** Language of the snippet when the template runs several (its default context). */
  language?: string;
  /** Context (kernel) to run in (`session.contexts.create`); not with `language`. */
  context?: string;
  /** Extra environment variables for this execution only. */
  env?: Record<string, string>;
  /** Streams the execution: called with each stdout chunk as the code prints it. */
  onStdout?: (text: string) => void;
  /** Streams the execution: called with each stderr chunk as it is produced. */
  onStderr?: (text: string) => void;
  /** Called with each rich result (display calls and figures as they happen, the last expression at the end). */
  onResult?: (result: ResultItem) => void;
  /** Called with the kernel error, if any. */
  onError?: (error: ExecutionError) => void;
}

export interface RunCommandOptions extends RequestOptions {
  /** Program arguments: when given, `cmd` is the program; else `cmd` runs with `/bin/bash -l -c`. */
  args?: string[];
  envs?: Record<string, string>;
  /** Working directory (default /home/user, the workspace). */
  cwd?: string;
  /** Keep stdin open for `sendStdin` (default false: /dev/null). */
  stdin?: boolean;
  /** Kill after this many ms (default 300 000 in the foreground, none in the background; 0 = none). */
  timeoutMs?: number;
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
}

/** Signals a command can be sent. */
export type CommandSignal = 'SIGTERM' | 'SIGKILL' | 'SIGINT' | 'SIGHUP';

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

/** Commands (processes) in the session's sandbox, with streamed output. */
export class SessionCommands {
  constructor(
    private readonly http: Transport,
    private readonly base: () => string,
  ) {}

  /**
   * Runs a command and resolves when it ends (a non-zero exit is a result: check `exitCode`).
   * Output is streamed to `onStdout`/`onStderr` as it is produced.
   */
  async run(cmd: string, options: RunCommandOptions = {}): Promise<CommandResult> {
    const { args, envs, cwd, stdin, timeoutMs, onStdout, onStderr, ...rest } = options;
    const events = await this.http.stream({
      method: 'POST',
      path: `${this.base()}/commands`,
      json: {
        cmd,
        ...(args ? { args } : {}),
        ...(envs ? { envs } : {}),
        ...(cwd ? { cwd } : {}),
        ...(stdin !== undefined ? { stdin } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      },
      options: rest,
      timeoutMs: (timeoutMs || 300_000) + EXECUTION_REQUEST_GRACE_MS,
    });
    return collectCommand(events, onStdout, onStderr, `POST ${this.base()}/commands`);
  }

  /** Starts a command in the background: resolves with its pid at once. */
  async start(
    cmd: string,
    options: Omit<RunCommandOptions, 'onStdout' | 'onStderr'> = {},
  ): Promise<{ pid: number }> {
    const { args, envs, cwd, stdin, timeoutMs, ...rest } = options;
    return this.http.json<{ pid: number }>({
      method: 'POST',
      path: `${this.base()}/commands`,
      json: {
        cmd,
        background: true,
        ...(args ? { args } : {}),
        ...(envs ? { envs } : {}),
        ...(cwd ? { cwd } : {}),
        ...(stdin !== undefined ? { stdin } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      },
      options: rest,
    });
  }

  /** Re-attaches to a running (or just ended) command: its output from now on, then its end. */
  async connect(
    pid: number,
    options: RequestOptions & { onStdout?: (t: string) => void; onStderr?: (t: string) => void } = {},
  ): Promise<CommandResult> {
    const { onStdout, onStderr, ...rest } = options;
    const path = `${this.base()}/commands/${pid}/events`;
    const events = await this.http.stream({ method: 'GET', path, options: rest, timeoutMs: 24 * 3600_000 });
    return collectCommand(events, onStdout, onStderr, `GET ${path}`);
  }

  /** Running commands. */
  async list(options?: RequestOptions): Promise<ProcessInfo[]> {
    return (
      await this.http.json<{ items: ProcessInfo[] }>({
        method: 'GET',
        path: `${this.base()}/commands`,
        options,
      })
    ).items;
  }

  /** Writes to a command's stdin (started with `stdin: true`). */
  sendStdin(pid: number, data: string | Uint8Array, options?: RequestOptions): Promise<void> {
    const json =
      typeof data === 'string'
        ? { data }
        : { base64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') };
    return this.http.none({ method: 'POST', path: `${this.base()}/commands/${pid}/stdin`, json, options });
  }

  /** Closes a command's stdin (EOF). */
  closeStdin(pid: number, options?: RequestOptions): Promise<void> {
    return this.http.none({
      method: 'POST',
      path: `${this.base()}/commands/${pid}/stdin`,
      json: { eof: true },
      options,
    });
  }

  /** Sends a signal (default SIGKILL). */
  kill(pid: number, signal: CommandSignal = 'SIGKILL', options?: RequestOptions): Promise<void> {
    return this.http.none({
      method: 'POST',
      path: `${this.base()}/commands/${pid}/signal`,
      json: { signal },
      options,
    });
  }
}

/** Contexts: independent kernels of the session (own variables, own language). */
export class SessionContexts {
  constructor(
    private readonly http: Transport,
    private readonly base: () => string,
  ) {}

  create(language: string, options: RequestOptions & { cwd?: string } = {}): Promise<ContextInfo> {
    const { cwd, ...rest } = options;
    return this.http.json<ContextInfo>({
      method: 'POST',
      path: `${this.base()}/contexts`,
      json: { language, ...(cwd ? { cwd } : {}) },
      options: rest,
    });
  }

  async list(options?: RequestOptions): Promise<ContextInfo[]> {
    return (
      await this.http.json<{ items: ContextInfo[] }>({
        method: 'GET',
        path: `${this.base()}/contexts`,
        options,
      })
    ).items;
  }

  /** A fresh kernel: the context's variables are gone. */
  restart(id: string, options?: RequestOptions): Promise<void> {
    return this.http.none({
      method: 'POST',
      path: `${this.base()}/contexts/${seg(id, 'context id')}/restart`,
      options,
    });
  }

  remove(id: string, options?: RequestOptions): Promise<void> {
    return this.http.none({
      method: 'DELETE',
      path: `${this.base()}/contexts/${seg(id, 'context id')}`,
      options,
    });
  }
}

async function collectCommand(
  events: AsyncGenerator<Record<string, unknown>>,
  onStdout: ((t: string) => void) | undefined,
  onStderr: ((t: string) => void) | undefined,
  request: string,
): Promise<CommandResult> {
  let pid = 0;
  const out = { stdout: '', stderr: '' };
  for await (const e of events) {
    if (e['type'] === 'start') pid = Number(e['pid']);
    else if (e['type'] === 'stdout' || e['type'] === 'stderr') {
      const text = String(e['text'] ?? '');
      out[e['type']] += text;
      (e['type'] === 'stdout' ? onStdout : onStderr)?.(text);
    } else if (e['type'] === 'end') {
      if (e['error'] && typeof e['error'] === 'object') throw streamError(e['error'], request);
      const { type: _t, ...end } = e;
      return { pid, ...(end as unknown as CommandEnd), ...out };
    }
  }
  throw new ExecutorError('unknown', `${request}: the stream ended without an end event`, {
    status: 200,
    request,
  });
}

function streamError(body: unknown, request: string): ExecutorError {
  return errorFromResponse({
    status: 500,
    text: JSON.stringify({ error: body }),
    retryAfterHeader: null,
    request,
  });
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
  readonly commands: SessionCommands;
  readonly contexts: SessionContexts;
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
    this.commands = new SessionCommands(http, base);
    this.contexts = new SessionContexts(http, base);
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
   * Runs code in the session and resolves when it finished, with its rich `results`, `error` and
   * `executionCount`. With `onStdout`/`onStderr`/`onResult`/`onError` the execution is streamed and
   * the callbacks fire as the code runs. A non-zero exit code, a kernel error or a timeout of the
   * code are results, not errors. Never retried after a network error (it may have run).
   */
  async execute(code: string, options: ExecuteOptions = {}): Promise<Execution> {
    const { onStdout, onStderr, onResult, onError, ...rest } = options;
    if (!onStdout && !onStderr && !onResult && !onError) {
      const { timeoutMs, language, context, env, ...req } = rest;
      const execTimeout = timeoutMs ?? DEFAULT_EXECUTION_TIMEOUT_MS;
      const r = await this.http.json<Execution>({
        method: 'POST',
        path: `${this.path}/executions`,
        json: executionBody(code, { timeoutMs, language, context, env }),
        options: req,
        timeoutMs: execTimeout + EXECUTION_REQUEST_GRACE_MS,
      });
      return { ...r, results: r.results ?? [] };
    }
    for await (const e of this.executeStream(code, rest)) {
      if (e.type === 'stdout') onStdout?.(e.text);
      else if (e.type === 'stderr') onStderr?.(e.text);
      else if (e.type === 'result') onResult?.(e.result);
      else if (e.type === 'error') onError?.(e.error);
      else if (e.type === 'end') return e.execution;
    }
    throw new ExecutorError(
      'unknown',
      `POST ${this.path}/executions: the stream ended without an end event`,
      {
        status: 200,
      },
    );
  }

  /**
   * Runs code and yields its events as they happen: `stdout`/`stderr` chunks (with the time the
   * platform read them), `result`s, the `error`, and last `end` with the whole Execution.
   */
  async *executeStream(
    code: string,
    options: Omit<ExecuteOptions, 'onStdout' | 'onStderr' | 'onResult' | 'onError'> = {},
  ): AsyncGenerator<ExecutionEvent> {
    const { timeoutMs, language, context, env, ...req } = options;
    const request = `POST ${this.path}/executions`;
    const events = await this.http.stream({
      method: 'POST',
      path: `${this.path}/executions`,
      json: executionBody(code, { timeoutMs, language, context, env }),
      options: req,
      timeoutMs: (timeoutMs ?? DEFAULT_EXECUTION_TIMEOUT_MS) + EXECUTION_REQUEST_GRACE_MS,
    });
    for await (const e of events) {
      const { type, ...data } = e;
      if (type === 'stdout' || type === 'stderr')
        yield { type, text: String(data['text'] ?? ''), ts: Number(data['ts'] ?? 0) };
      else if (type === 'result') yield { type, result: data as unknown as ResultItem };
      else if (type === 'error') yield { type, error: data as unknown as ExecutionError };
      else if (type === 'end') {
        if (data['error'] && typeof data['error'] === 'object' && 'code' in (data['error'] as object))
          throw streamError(data['error'], request);
        const execution = data as unknown as Execution;
        yield { type, execution: { ...execution, results: execution.results ?? [] } };
        return;
      }
    }
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

function executionBody(
  code: string,
  o: { timeoutMs?: number; language?: string; context?: string; env?: Record<string, string> },
): Record<string, unknown> {
  return {
    code,
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.language ? { language: o.language } : {}),
    ...(o.context ? { context: o.context } : {}),
    ...(o.env ? { env: o.env } : {}),
  };
}

async function toBytes(data: FileData): Promise<Uint8Array> {
  if (typeof data === 'string') return new TextEncoder().encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (typeof Blob !== 'undefined' && data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  throw new TypeError('file data: expected a string, Uint8Array/Buffer, ArrayBuffer, typed array or Blob');
}
