import type Redis from 'ioredis';
import type { JobRpcClient } from '@executor/queues';
import type { ExecutorPool, ExecutorSession } from '@executor/crd';
import type { OperatorConfig } from '../config/operator-config';
import type { Informer } from '../kube/informer';
import type { KubeClient, KubeObject } from '../kube/kube-client';
import type { ServedVersions } from '../kube/discovery';
import type { OperatorMetrics } from '../metrics/operator-metrics';

export type PoolObject = ExecutorPool & KubeObject;
export type SessionObject = ExecutorSession & KubeObject;
export interface PodObject extends KubeObject {
  spec?: { nodeName?: string };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}
export interface DeploymentObject extends KubeObject {
  spec?: { replicas?: number };
  status?: { replicas?: number; readyReplicas?: number; availableReplicas?: number };
}

/** Long-lived dependencies of the operator (live for the whole process). */
export interface OperatorDeps {
  cfg: OperatorConfig;
  client: KubeClient;
  metrics: OperatorMetrics;
  /** Plain connection for queue depth and heartbeats. */
  redis: Redis;
  /** Events to the load balancer and calls to the persistence service. */
  rpc: JobRpcClient;
}

/** The caches of one leader term. */
export interface Informers {
  pools: Informer<PoolObject>;
  sessions: Informer<SessionObject>;
  deployments: Informer<DeploymentObject>;
  pods: Informer<PodObject>;
}

export interface LeaderScope extends OperatorDeps {
  versions: ServedVersions;
  informers: Informers;
}
