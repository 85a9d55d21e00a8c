/**
 * A minimal Kubernetes API client for the k8s/ tests: bearer-token kubeconfigs (what
 * tools/kube/start.sh writes), JSON in and out, optional impersonation headers, server-side dry
 * run. Deliberately raw HTTP so that the tests see exactly the status codes and bodies the API
 * server returns.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';

export interface KubeResponse<T = unknown> {
  status: number;
  body: T;
}

export interface RequestOptions {
  /** Impersonated user (`Impersonate-User`). */
  impersonateUser?: string;
  /** Impersonated groups (`Impersonate-Group`, repeated). */
  impersonateGroups?: readonly string[];
  contentType?: string;
}

interface KubeconfigFile {
  clusters: Array<{
    name: string;
    cluster: { server: string; 'certificate-authority'?: string; 'certificate-authority-data'?: string };
  }>;
  users: Array<{ name: string; user: { token?: string } }>;
  contexts: Array<{ name: string; context: { cluster: string; user: string } }>;
  'current-context': string;
}

export class KubeClient {
  private constructor(
    readonly server: URL,
    private readonly token: string,
    private readonly ca: Buffer,
  ) {}

  /** Reads a kubeconfig with a bearer token user (the current context). */
  static fromKubeconfig(path: string): KubeClient {
    const cfg = parse(readFileSync(path, 'utf8')) as KubeconfigFile;
    const ctx = cfg.contexts.find((c) => c.name === cfg['current-context'])?.context;
    if (!ctx) throw new Error(`${path}: current context ${cfg['current-context']} not found`);
    const cluster = cfg.clusters.find((c) => c.name === ctx.cluster)?.cluster;
    const user = cfg.users.find((u) => u.name === ctx.user)?.user;
    if (!cluster || !user?.token)
      throw new Error(`${path}: the tests need a cluster and a bearer-token user`);
    const ca = cluster['certificate-authority-data']
      ? Buffer.from(cluster['certificate-authority-data'], 'base64')
      : readFileSync(resolve(dirname(path), cluster['certificate-authority'] ?? ''));
    return new KubeClient(new URL(cluster.server), user.token, ca);
  }

  request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<KubeResponse<T>> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string | string[]> = {
      Authorization: `Bearer ${this.token}`,
      Accept: 'application/json',
    };
    if (payload) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    if (options.impersonateUser) headers['Impersonate-User'] = options.impersonateUser;
    if (options.impersonateGroups?.length) headers['Impersonate-Group'] = [...options.impersonateGroups];
    return new Promise((resolvePromise, reject) => {
      const req = request(
        {
          host: this.server.hostname,
          port: this.server.port,
          path,
          method,
          headers,
          ca: this.ca,
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              // not JSON (e.g. /healthz): keep the text
            }
            resolvePromise({ status: res.statusCode ?? 0, body: parsed as T });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }
}

/** Discovery of one API group version: its resources with their verbs. */
export interface ApiResource {
  name: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
}

/** The REST path of a kind's collection (`/api/v1/namespaces/ns/services`, `/apis/apps/v1/...`). */
export function collectionPath(apiVersion: string, plural: string, namespace?: string): string {
  const prefix = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return namespace ? `${prefix}/namespaces/${namespace}/${plural}` : `${prefix}/${plural}`;
}
