/** A tiny client for the public API (as in apps/e2e; deliberately not the SDK): what a user's HTTP client sends. */
export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
  raw: Buffer;
}

export class Api {
  /** Sessions opened through createSession and not yet deleted by deleteCreatedSessions. */
  private readonly created = new Set<string>();

  constructor(
    readonly baseUrl: string,
    readonly apiKey: string,
  ) {}

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    opts: { raw?: Buffer; headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiKey}`, ...opts.headers };
    let payload: Buffer | string | undefined;
    if (opts.raw) {
      headers['content-type'] = 'application/octet-stream';
      payload = opts.raw;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: payload,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000),
    });
    const raw = Buffer.from(await res.arrayBuffer());
    let parsed: unknown = undefined;
    if ((res.headers.get('content-type') ?? '').includes('json') && raw.length)
      parsed = JSON.parse(raw.toString());
    return { status: res.status, body: parsed as T, headers: res.headers, raw };
  }

  async createSession(body: Record<string, unknown>): Promise<Session> {
    const r = await this.request<Session>('POST', '/v1/sessions', body);
    if (r.status !== 201) throw new Error(`create session: HTTP ${r.status} ${r.raw.toString()}`);
    this.created.add(r.body.id);
    return r.body;
  }

  /**
   * Deletes every session createSession opened (already gone is fine), so a suite leaves the pools as it
   * found them: the next suite's sessions are routed by load, and leftovers would skew where they land.
   */
  async deleteCreatedSessions(): Promise<void> {
    for (const id of [...this.created]) {
      const r = await this.request('DELETE', `/v1/sessions/${id}`);
      if (r.status !== 204 && r.status !== 404)
        throw new Error(`delete session ${id}: HTTP ${r.status} ${r.raw.toString()}`);
      this.created.delete(id);
    }
  }

  async execute(id: string, code: string, extra: Record<string, unknown> = {}): Promise<Execution> {
    const r = await this.request<Execution>('POST', `/v1/sessions/${id}/executions`, { code, ...extra });
    if (r.status !== 200) throw new Error(`execute: HTTP ${r.status} ${r.raw.toString()}`);
    return r.body;
  }
}

export interface Session {
  id: string;
  template: string;
  pool: string;
  pod: string;
  region: string;
  persist: boolean;
  status: string;
  createdAt: string;
  expiresAt: string;
  env: Record<string, string>;
  metadata: Record<string, string>;
  migrations?: Array<{ from: string; to: string; at: string; reason: string }>;
  lastSnapshotAt?: string | null;
}

export interface Execution {
  id: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  truncated: boolean;
}
