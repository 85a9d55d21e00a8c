import * as http from 'node:http';
import * as https from 'node:https';
import * as k8s from '@kubernetes/client-node';

/** A Kubernetes object as plain JSON (timestamps stay strings, exactly as list and watch return them). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
    finalizers?: string[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
  };
  [field: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface KubeList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

/** A failed API call: HTTP status plus the API server's `Status` reason and message. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly method: string,
    readonly path: string,
  ) {
    super(`${method} ${path}: ${status} ${reason}: ${message}`);
    this.name = 'KubeApiError';
  }
}

/** True for a KubeApiError with one of `statuses`. */
export function isApiStatus(err: unknown, ...statuses: number[]): err is KubeApiError {
  return err instanceof KubeApiError && statuses.includes(err.status);
}

/** For `.catch(ignoreNotFound)`: a 404 means the object is already gone, which is what was wanted. */
export function ignoreNotFound(err: unknown): undefined {
  if (isApiStatus(err, 404)) return undefined;
  throw err;
}

/**
 * Errors worth retrying: network errors, 409 conflicts, 429 and 5xx. 4xx answers other than
 * these (400, 403, 404, 422) do not change by retrying the same request.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof KubeApiError) return err.status === 409 || err.status === 429 || err.status >= 500;
  return true;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Milliseconds before the request is aborted (default 30 000). */
  timeoutMs?: number;
}

/** The patch content types of the API server (re-exported from client-node). */
export const PatchType = k8s.PatchStrategy;

/**
 * A small JSON REST client over the KubeConfig of @kubernetes/client-node: every call returns the
 * API server's JSON as-is, so objects from list, get and watch have one shape (client-node's typed
 * APIs turn timestamps into Date objects, watch events do not). One keep-alive agent per client;
 * credentials (bearer tokens, exec plugins, client certificates) are applied per request by
 * `KubeConfig.applyToHTTPSOptions`, so rotated tokens are picked up.
 */
export class KubeClient {
  private readonly server: URL;
  private agent: http.Agent | undefined;

  constructor(readonly kc: k8s.KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  /** Loads KUBECONFIG when given, else the in-cluster service account (or ~/.kube/config). */
  static fromConfig(kubeconfigPath?: string): KubeClient {
    const kc = new k8s.KubeConfig();
    if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
    else kc.loadFromDefault();
    return new KubeClient(kc);
  }

  get<T>(path: string, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  list<T>(path: string, query?: RequestOptions['query']): Promise<KubeList<T>> {
    return this.request<KubeList<T>>('GET', path, { query });
  }

  create<T>(path: string, body: unknown, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('POST', path, { body, query });
  }

  replace<T>(path: string, body: unknown, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('PUT', path, { body, query });
  }

  /** JSON merge patch (RFC 7386). */
  mergePatch<T>(path: string, body: unknown, query?: RequestOptions['query']): Promise<T> {
    return this.request<T>('PATCH', path, { body, query, contentType: PatchType.MergePatch });
  }

  /** Server-side apply of `obj` (JSON is valid apply YAML) as `fieldManager`, forcing conflicts. */
  apply<T>(path: string, obj: unknown, fieldManager: string): Promise<T> {
    return this.request<T>('PATCH', path, {
      body: obj,
      contentType: PatchType.ServerSideApply,
      query: { fieldManager, force: true },
    });
  }

  delete<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('DELETE', path, { body });
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = new URL(this.server.pathname.replace(/\/$/, '') + path, this.server);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const reqOpts: https.RequestOptions = { headers: {} };
    await this.kc.applyToHTTPSOptions(reqOpts);
    const headers: http.OutgoingHttpHeaders = {
      ...(reqOpts.headers as http.OutgoingHttpHeaders | undefined),
      Accept: 'application/json',
    };
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.body));
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = payload.length;
    }
    const agent = this.agentFor(reqOpts);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<T>((resolve, reject) => {
      const req = mod.request(
        url,
        { method, headers, agent, auth: reqOpts.auth, timeout: opts.timeoutMs ?? 30_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            if (status >= 200 && status < 300) return resolve(json as T);
            const st = (json ?? {}) as { reason?: string; message?: string };
            reject(
              new KubeApiError(
                status,
                st.reason ?? 'Unknown',
                st.message ?? text.slice(0, 500),
                method,
                path,
              ),
            );
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`${method} ${path}: no answer within ${opts.timeoutMs ?? 30_000} ms`)),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  private agentFor(o: https.RequestOptions): http.Agent {
    if (!this.agent) {
      this.agent =
        this.server.protocol === 'https:'
          ? new https.Agent({
              keepAlive: true,
              maxSockets: 16,
              ca: o.ca,
              cert: o.cert,
              key: o.key,
              pfx: o.pfx,
              passphrase: o.passphrase,
              servername: o.servername,
              ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
            })
          : new http.Agent({ keepAlive: true, maxSockets: 16 });
    }
    return this.agent;
  }
}
