import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import type { OperatorConfig } from '../config/operator-config';
import type { KubeClient } from '../kube/kube-client';
import type { OperatorMetrics } from '../metrics/operator-metrics';
import { SubjectAccessReviewAuthorizer, type Authorizer } from './authorizer';
import { ExternalMetricsServer } from './external-metrics.server';
import { QueueDepthMetrics } from './queue-depth-metrics';
import {
  AUTH_CONFIGMAP_NAME,
  AUTH_CONFIGMAP_NAMESPACE,
  requestHeaderConfigFrom,
  type RequestHeaderConfig,
} from './request-header-auth';
import { ServingTlsStore, type CaBundleSync, type ServingTls } from './serving-tls';

const CA_DAYS = 3650;

export interface ExternalMetricsState {
  serving: boolean;
  port: number;
  /** Why it is not serving (last start or refresh failure). */
  error?: string;
  caBundle?: CaBundleSync;
}

/**
 * Runs the External metrics API on every operator replica (not only the leader: it only reads): reads
 * the aggregator's client CA and request-header names from kube-system/extension-apiserver-authentication,
 * gets (or creates) the serving certificate Secret, keeps the APIService's caBundle in sync, and serves.
 * Every EXTERNAL_METRICS_REFRESH_SECONDS it re-reads both (CA rotation, certificate renewal) and swaps
 * them into the running server; a start that failed (missing RBAC, no aggregation layer) is retried
 * at the same period and reported in /health/ready's details and the logs, without stopping the operator.
 */
export class ExternalMetricsService {
  private readonly logger = new Logger('ExternalMetrics');
  private readonly server: ExternalMetricsServer;
  private readonly tlsStore: ServingTlsStore;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastSync: CaBundleSync | undefined;
  private lastError: string | undefined;

  constructor(
    private readonly cfg: OperatorConfig,
    private readonly client: KubeClient,
    redis: Redis,
    metrics: OperatorMetrics,
    authorizer?: Authorizer,
  ) {
    this.tlsStore = new ServingTlsStore(client, {
      namespace: cfg.EXTERNAL_METRICS_NAMESPACE,
      secretName: cfg.EXTERNAL_METRICS_TLS_SECRET,
      service: cfg.EXTERNAL_METRICS_SERVICE,
      caDays: CA_DAYS,
      certDays: cfg.EXTERNAL_METRICS_CERT_DAYS,
      renewBeforeDays: cfg.EXTERNAL_METRICS_RENEW_BEFORE_DAYS,
    });
    this.server = new ExternalMetricsServer({
      source: new QueueDepthMetrics(client, redis, {
        prefix: cfg.QUEUE_PREFIX,
        watchNamespace: cfg.WATCH_NAMESPACE,
      }),
      authorizer:
        authorizer ??
        new SubjectAccessReviewAuthorizer(client, cfg.EXTERNAL_METRICS_AUTHZ_CACHE_SECONDS * 1000),
      onRequest: ({ path, code, user, reason }) => {
        metrics.externalMetricsRequests.inc({ code: String(code) });
        if (code >= 400)
          this.logger.debug(`${code} ${path} user=${user ?? '-'}${reason ? `: ${reason}` : ''}`);
      },
    });
  }

  get state(): ExternalMetricsState {
    return {
      serving: this.server.listening,
      port: this.server.port,
      ...(this.lastError ? { error: this.lastError } : {}),
      ...(this.lastSync ? { caBundle: this.lastSync } : {}),
    };
  }

  /** The HTTPS server (tests: its port). */
  get httpsServer(): ExternalMetricsServer {
    return this.server;
  }

  /** First attempt now (awaited, never throws); then a refresh every EXTERNAL_METRICS_REFRESH_SECONDS. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.refresh();
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.refresh().finally(() => (this.running = undefined));
    }, this.cfg.EXTERNAL_METRICS_REFRESH_SECONDS * 1000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.server.close();
  }

  /** One reading of the client CA and the TLS Secret; starts or updates the server. */
  async refresh(): Promise<void> {
    try {
      const auth = await this.readAuthConfig();
      const tls = await this.tlsStore.ensure();
      if (this.stopped) return;
      if (this.server.listening) this.server.update(tls, auth);
      else {
        await this.server.listen(this.cfg.HOST, this.cfg.EXTERNAL_METRICS_PORT, tls, auth);
        this.logger.log(
          `serving external.metrics.k8s.io/v1beta1 on https://${this.cfg.HOST}:${this.server.port} (${tls.managed ? 'generated' : 'provided'} certificate)`,
        );
      }
      await this.syncCaBundle(tls);
      if (this.lastError) this.logger.log('External metrics API recovered');
      this.lastError = undefined;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (message !== this.lastError) {
        this.logger.warn(
          `External metrics API ${this.server.listening ? 'refresh' : 'start'} failed (retry in ${this.cfg.EXTERNAL_METRICS_REFRESH_SECONDS} s): ${message}`,
        );
      }
      this.lastError = message;
    }
  }

  private async readAuthConfig(): Promise<RequestHeaderConfig> {
    const cm = await this.client.get<{ data?: Record<string, string> }>(
      `/api/v1/namespaces/${AUTH_CONFIGMAP_NAMESPACE}/configmaps/${AUTH_CONFIGMAP_NAME}`,
    );
    return requestHeaderConfigFrom(cm.data);
  }

  private async syncCaBundle(tls: ServingTls): Promise<void> {
    if (!this.cfg.EXTERNAL_METRICS_APISERVICE) return;
    const result = await this.tlsStore.syncCaBundle(this.cfg.EXTERNAL_METRICS_APISERVICE, tls.caPem);
    if (result !== this.lastSync) {
      const name = this.cfg.EXTERNAL_METRICS_APISERVICE;
      if (result === 'patched') this.logger.log(`APIService ${name}: caBundle set`);
      else if (result === 'foreign')
        this.logger.warn(
          `APIService ${name} points at another server: left alone (this replica still serves on its port)`,
        );
      else if (result === 'absent')
        this.logger.warn(`APIService ${name} does not exist: nothing routes here`);
    }
    this.lastSync = result;
  }
}
