import { hostname } from 'node:os';
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_QUEUE_PREFIX, redisOptionsFromUrl } from '@executor/queues';
import { DEFAULT_IMAGE_REGISTRY, DEFAULT_IMAGE_TAG } from '@executor/templates';
import { ConfigError, loadConfig } from '@executor/platform';

/** Every option of the operator: env var name → schema with its description and default (documented once, here). */
export const OperatorConfigSchema = Type.Object({
  KUBECONFIG: Type.String({
    default: '',
    description:
      'Path of a kubeconfig file. Empty: the in-cluster service account (or ~/.kube/config outside a cluster).',
  }),
  WATCH_NAMESPACE: Type.String({
    default: '',
    pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$',
    description: 'Namespace whose pools, sessions and pods are managed. Empty: all namespaces.',
  }),
  REDIS_URL: Type.String({
    default: 'redis://127.0.0.1:6379',
    description: 'Redis of the platform (queue depth, heartbeats, events).',
  }),
  QUEUE_PREFIX: Type.String({
    default: DEFAULT_QUEUE_PREFIX,
    minLength: 1,
    description: 'BullMQ key prefix shared by the platform.',
  }),
  HOST: Type.String({
    default: '127.0.0.1',
    description: 'Address of the /health and /metrics server (0.0.0.0 in a pod).',
  }),
  PORT: Type.Integer({
    default: 8083,
    minimum: 0,
    maximum: 65535,
    description: 'Port of /health/live, /health/ready and /metrics (0: any free port).',
  }),
  LOG_LEVEL: Type.Union(
    [
      Type.Literal('error'),
      Type.Literal('warn'),
      Type.Literal('log'),
      Type.Literal('debug'),
      Type.Literal('verbose'),
    ],
    { default: 'log', description: 'Most detailed log level written: error, warn, log, debug or verbose.' },
  ),
  LEADER_ELECTION: Type.Boolean({
    default: true,
    description: 'Act only while holding the Lease (run several replicas safely). false: act at once.',
  }),
  LEASE_NAME: Type.String({
    default: 'executor-operator',
    minLength: 1,
    description: 'Name of the coordination.k8s.io/v1 Lease.',
  }),
  LEASE_NAMESPACE: Type.String({
    default: 'executor-system',
    minLength: 1,
    description: 'Namespace of the Lease.',
  }),
  LEASE_DURATION_SECONDS: Type.Integer({
    default: 15,
    minimum: 1,
    description: 'A lease not renewed for this long may be taken over.',
  }),
  LEASE_RENEW_DEADLINE_MS: Type.Integer({
    default: 10_000,
    minimum: 100,
    description: 'The leader stops acting when it could not renew for this long (< lease duration).',
  }),
  LEASE_RETRY_PERIOD_MS: Type.Integer({
    default: 2000,
    minimum: 50,
    description: 'Period of lease acquire/renew attempts.',
  }),
  POD_NAME: Type.String({
    default: '',
    description: 'Identity in the Lease (the pod name via the downward API). Empty: <hostname>-<pid>.',
  }),
  RESYNC_SECONDS: Type.Integer({
    default: 300,
    minimum: 0,
    description: 'Full re-list of every watched resource and re-reconcile of every object (0: never).',
  }),
  RECONCILE_CONCURRENCY: Type.Integer({
    default: 4,
    minimum: 1,
    maximum: 64,
    description: 'Objects of one kind reconciled in parallel (one object never twice at once).',
  }),
  RETRY_BASE_MS: Type.Integer({
    default: 500,
    minimum: 10,
    description: 'First retry delay after a failed reconcile; doubles per failure.',
  }),
  RETRY_MAX_MS: Type.Integer({
    default: 60_000,
    minimum: 10,
    description: 'Cap of the reconcile retry delay.',
  }),
  WATCH_BACKOFF_MAX_MS: Type.Integer({
    default: 30_000,
    minimum: 10,
    description: 'Cap of the delay before a failed watch is restarted.',
  }),
  QUEUE_DEPTH_INTERVAL_MS: Type.Integer({
    default: 5000,
    minimum: 100,
    description: 'Period of the queue depth reading (metrics, status, pod-deletion-cost).',
  }),
  SCALE_INTERVAL_SECONDS: Type.Integer({
    default: 15,
    minimum: 1,
    description:
      'Period of the scaling decision of pools with `scaling.mode: operator` (the HPA sync period).',
  }),
  STATUS_INTERVAL_SECONDS: Type.Integer({
    default: 30,
    minimum: 1,
    description: 'Each pool is re-reconciled at least this often (status freshness).',
  }),
  EXECUTOR_IMAGE_REGISTRY: Type.String({
    default: DEFAULT_IMAGE_REGISTRY,
    minLength: 1,
    description: 'Registry of the executor images (`<registry>/executor-<template>:<tag>`).',
  }),
  EXECUTOR_IMAGE_TAG: Type.String({
    default: DEFAULT_IMAGE_TAG,
    minLength: 1,
    description: 'Tag of the executor images.',
  }),
  EXECUTOR_REDIS_USERS: Type.Union([Type.Literal('per-pool'), Type.Literal('shared')], {
    default: 'per-pool',
    description:
      "`per-pool`: the operator creates each pool's Redis ACL user (ACL SETUSER; its own user needs +acl|setuser) and the Secret `<pool>-redis` its executors use. `shared`: pools use EXECUTOR_REDIS_SECRET_NAME (WARN: every pool's executors share one Redis user).",
  }),
  POOL_REDIS_PASSWORD_KEY: Type.String({
    default: '',
    description:
      "HMAC key deriving each pool's Redis password (per-pool users). Empty: the operator's own Redis password (rotating it rotates every pool's; restart the pools' pods after).",
  }),
  EXECUTOR_REDIS_SECRET_NAME: Type.String({
    default: 'executor-redis',
    minLength: 1,
    description:
      "With EXECUTOR_REDIS_USERS=shared: Secret in each pool's namespace holding the executors' REDIS_URL.",
  }),
  EXECUTOR_REDIS_SECRET_KEY: Type.String({
    default: 'url',
    minLength: 1,
    description: 'Key of that Secret.',
  }),
  EXECUTOR_SANDBOX: Type.Union([Type.Literal('bwrap'), Type.Literal('none')], {
    default: 'bwrap',
    description:
      'SANDBOX of the executors of every pool, RuntimeClass (gVisor, Kata) pools included: the in-pod sandbox stays on. `none` only for a trusted installation (the executors then WARN at boot).',
  }),
  PERSISTENCE_TIMEOUT_MS: Type.Integer({
    default: 10_000,
    minimum: 100,
    description: 'Timeout of state.delete calls to the persistence service (session finalizer).',
  }),
  SESSION_EVENTS_CONCURRENCY: Type.Integer({
    default: 1,
    minimum: 1,
    maximum: 64,
    description: 'Session events processed in parallel (1 keeps the events of a session in order).',
  }),
  EXTERNAL_METRICS_ENABLED: Type.Boolean({
    default: true,
    description:
      "Serve external.metrics.k8s.io/v1beta1 (queue depth for the pools' HPAs) over HTTPS on every replica, behind the APIService. false: leave it to prometheus-adapter.",
  }),
  EXTERNAL_METRICS_PORT: Type.Integer({
    default: 6443,
    minimum: 0,
    maximum: 65535,
    description: 'HTTPS port of the External metrics API, on HOST (0: any free port).',
  }),
  EXTERNAL_METRICS_NAMESPACE: Type.String({
    default: 'executor-system',
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
    description: "Namespace of the External metrics Service and of its TLS Secret (the operator's own).",
  }),
  EXTERNAL_METRICS_SERVICE: Type.String({
    default: 'executor-external-metrics',
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
    description:
      'Service the APIService points at; the serving certificate names <service>.<namespace>.svc (what the aggregator verifies).',
  }),
  EXTERNAL_METRICS_TLS_SECRET: Type.String({
    default: 'executor-external-metrics-tls',
    pattern: '^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$',
    description:
      'Secret with the serving certificate, shared by every replica: generated (CA + certificate, renewed) when missing; only read when it has no ca.key (e.g. cert-manager).',
  }),
  EXTERNAL_METRICS_APISERVICE: Type.String({
    default: 'v1beta1.external.metrics.k8s.io',
    description:
      'APIService whose spec.caBundle is kept equal to the CA of the Secret (only while it points at EXTERNAL_METRICS_SERVICE). Empty: never touched.',
  }),
  EXTERNAL_METRICS_CERT_DAYS: Type.Integer({
    default: 365,
    minimum: 1,
    description: 'Validity of a generated serving certificate (the generated CA: 10 years).',
  }),
  EXTERNAL_METRICS_RENEW_BEFORE_DAYS: Type.Integer({
    default: 30,
    minimum: 0,
    description: 'A generated serving certificate is renewed when fewer days than this remain.',
  }),
  EXTERNAL_METRICS_AUTHZ_CACHE_SECONDS: Type.Integer({
    default: 10,
    minimum: 0,
    description: 'SubjectAccessReview decisions (allowed and denied) are reused for this long (0: never).',
  }),
  EXTERNAL_METRICS_REFRESH_SECONDS: Type.Integer({
    default: 60,
    minimum: 1,
    description:
      "Period of re-reading the aggregator's client CA (kube-system/extension-apiserver-authentication) and the TLS Secret (renewal, caBundle); also the retry period when serving could not start.",
  }),
});

export type OperatorConfig = Static<typeof OperatorConfigSchema>;

export const OPERATOR_CONFIG = Symbol('OPERATOR_CONFIG');

/** Reads and validates the operator's configuration (throws ConfigError naming every bad variable). */
export function loadOperatorConfig(env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const cfg = loadConfig(OperatorConfigSchema, env);
  if (cfg.LEASE_RENEW_DEADLINE_MS >= cfg.LEASE_DURATION_SECONDS * 1000) {
    throw new ConfigError(['LEASE_RENEW_DEADLINE_MS: must be shorter than LEASE_DURATION_SECONDS × 1000']);
  }
  if (cfg.EXTERNAL_METRICS_RENEW_BEFORE_DAYS >= cfg.EXTERNAL_METRICS_CERT_DAYS) {
    throw new ConfigError([
      'EXTERNAL_METRICS_RENEW_BEFORE_DAYS: must be shorter than EXTERNAL_METRICS_CERT_DAYS (every certificate would be renewed at once)',
    ]);
  }
  if (
    cfg.EXECUTOR_REDIS_USERS === 'per-pool' &&
    !cfg.POOL_REDIS_PASSWORD_KEY &&
    !redisOptionsFromUrl(cfg.REDIS_URL).password
  ) {
    throw new ConfigError([
      'POOL_REDIS_PASSWORD_KEY: per-pool Redis users (EXECUTOR_REDIS_USERS=per-pool) need it or a password in REDIS_URL',
    ]);
  }
  return cfg;
}

/** The Lease identity of this replica. */
export function operatorIdentity(cfg: OperatorConfig): string {
  return cfg.POD_NAME || `${hostname()}-${process.pid}`;
}
