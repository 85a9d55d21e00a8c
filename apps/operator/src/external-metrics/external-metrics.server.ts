import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Authorizer, AccessAttributes } from './authorizer';
import { LabelSelectorError, parseLabelSelector } from './label-selector';
import { type ExternalMetricValue, SERVED_METRICS } from './queue-depth-metrics';
import { authenticateRequest, type RequestHeaderConfig } from './request-header-auth';

export const EXTERNAL_METRICS_GROUP = 'external.metrics.k8s.io';
export const EXTERNAL_METRICS_VERSION = 'v1beta1';
const GROUP_VERSION = `${EXTERNAL_METRICS_GROUP}/${EXTERNAL_METRICS_VERSION}`;
const BASE = `/apis/${GROUP_VERSION}`;
const METRIC_PATH = new RegExp(`^${BASE.replace(/\./g, '\\.')}/namespaces/([^/]+)/([^/]+)$`);
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface ServerTls {
  certPem: string;
  keyPem: string;
}

export interface MetricsSource {
  list(namespace: string, selector: ReturnType<typeof parseLabelSelector>): Promise<ExternalMetricValue[]>;
}

export interface ExternalMetricsServerDeps {
  source: MetricsSource;
  authorizer: Authorizer;
  /** Called for every answered request (metrics, logs). */
  onRequest?: (outcome: { path: string; code: number; user?: string; reason?: string }) => void;
}

/** A Kubernetes `Status` failure body. */
function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

/** Minimal OpenAPI v2 document: the aggregator downloads one from every APIService's server. */
const OPENAPI = {
  swagger: '2.0',
  info: { title: 'executor-operator external metrics', version: EXTERNAL_METRICS_VERSION },
  paths: {},
};

/**
 * The `external.metrics.k8s.io/v1beta1` API over HTTPS, as an aggregated API server (the way KEDA's
 * metrics server does it): discovery (`APIResourceList`), `GET namespaces/{ns}/{metric}?labelSelector=`
 * → `ExternalMetricValueList`, `/openapi/v2`, and `/healthz` `/livez` `/readyz` (the only paths open
 * without authentication). Every other request must come from the kube-apiserver's aggregator
 * (front-proxy client certificate, user in the headers: {@link authenticateRequest}) and is then
 * authorised with a SubjectAccessReview for its user ({@link Authorizer}): verb `list` on the
 * resource `<metric>` of the group in the namespace for metric reads (what the generic apiserver's
 * RequestInfo makes of that path), `get` on the path for discovery and OpenAPI. Reads only: every
 * replica serves.
 */
export class ExternalMetricsServer {
  private server: Server | undefined;
  private auth: RequestHeaderConfig | undefined;

  constructor(private readonly deps: ExternalMetricsServerDeps) {}

  get listening(): boolean {
    return !!this.server?.listening;
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  /** Starts listening with the serving certificate and the aggregator's client CA. */
  async listen(host: string, port: number, tls: ServerTls, auth: RequestHeaderConfig): Promise<void> {
    this.auth = auth;
    const server = createServer(
      {
        cert: tls.certPem,
        key: tls.keyPem,
        ca: auth.clientCA,
        requestCert: true,
        // Verification happens per request (authenticateRequest): health checks come without a certificate.
        rejectUnauthorized: false,
        minVersion: 'TLSv1.2',
      },
      (req, res) => void this.handle(req, res),
    );
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** Swaps the serving certificate and/or the client CA for new connections (renewal, CA rotation). */
  update(tls: ServerTls, auth: RequestHeaderConfig): void {
    this.auth = auth;
    this.server?.setSecureContext({ cert: tls.certPem, key: tls.keyPem, ca: auth.clientCA });
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const send = (code: number, body: unknown, user?: string, reason?: string): void => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(code, {
        'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
        'Cache-Control': 'no-cache, private',
        'Content-Length': Buffer.byteLength(text),
      });
      res.end(text);
      this.deps.onRequest?.({ path, code, user, reason });
    };
    try {
      if (path === '/healthz' || path === '/livez' || path === '/readyz') return send(200, 'ok');
      const auth = this.auth;
      const who = auth ? authenticateRequest(req, auth) : { ok: false as const, reason: 'not ready' };
      if (!who.ok) return send(401, status(401, 'Unauthorized', 'Unauthorized'), undefined, who.reason);
      const user = who.user;
      if (req.method !== 'GET') {
        return send(
          405,
          status(405, 'MethodNotAllowed', `the server does not allow this method (${req.method ?? ''})`),
          user.name,
        );
      }
      const allow = async (attrs: AccessAttributes): Promise<boolean> => {
        const d = await this.deps.authorizer.authorize(user, attrs);
        if (d.allowed) return true;
        const what =
          attrs.kind === 'resource'
            ? `cannot ${attrs.verb} resource "${attrs.resource}" in API group "${attrs.group}" in the namespace "${attrs.namespace}"`
            : `cannot ${attrs.verb} path "${attrs.path}"`;
        send(403, status(403, 'Forbidden', `User "${user.name}" ${what}`), user.name, d.reason);
        return false;
      };
      if (path === BASE) {
        if (!(await allow({ kind: 'path', verb: 'get', path: url.pathname }))) return;
        return send(
          200,
          {
            kind: 'APIResourceList',
            apiVersion: 'v1',
            groupVersion: GROUP_VERSION,
            resources: SERVED_METRICS.map((name) => ({
              name,
              singularName: '',
              namespaced: true,
              kind: 'ExternalMetricValueList',
              verbs: ['get'],
            })),
          },
          user.name,
        );
      }
      if (path === '/openapi/v2') {
        if (!(await allow({ kind: 'path', verb: 'get', path: url.pathname }))) return;
        return send(200, OPENAPI, user.name);
      }
      const m = METRIC_PATH.exec(path);
      if (m) {
        const namespace = decodeURIComponent(m[1] as string);
        const metric = decodeURIComponent(m[2] as string);
        if (!DNS1123_LABEL.test(namespace)) {
          return send(400, status(400, 'BadRequest', `invalid namespace "${namespace}"`), user.name);
        }
        const attrs: AccessAttributes = {
          kind: 'resource',
          verb: 'list',
          group: EXTERNAL_METRICS_GROUP,
          version: EXTERNAL_METRICS_VERSION,
          resource: metric,
          namespace,
        };
        if (!(await allow(attrs))) return;
        if (!SERVED_METRICS.includes(metric)) {
          return send(
            404,
            status(
              404,
              'NotFound',
              `the server could not find the metric ${metric} for namespace ${namespace}`,
            ),
            user.name,
          );
        }
        let selector;
        try {
          selector = parseLabelSelector(url.searchParams.get('labelSelector') ?? '');
        } catch (err) {
          if (err instanceof LabelSelectorError)
            return send(400, status(400, 'BadRequest', err.message), user.name);
          throw err;
        }
        const items = await this.deps.source.list(namespace, selector);
        return send(
          200,
          { kind: 'ExternalMetricValueList', apiVersion: GROUP_VERSION, metadata: {}, items },
          user.name,
        );
      }
      return send(
        404,
        status(404, 'NotFound', 'the server could not find the requested resource'),
        user.name,
      );
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent)
        send(
          500,
          status(500, 'InternalError', 'an error on the server prevented the request'),
          undefined,
          message,
        );
    }
  }
}
