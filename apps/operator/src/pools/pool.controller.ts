import { Logger } from '@nestjs/common';
import {
  PoolConditionReason,
  ScalingMode,
  TERMINAL_SESSION_PHASES,
  formatErrors,
  parseQuantity,
  validatePool,
  type ExecutorPoolStatus,
  type ResolvedPool,
} from '@executor/crd';
import { ScalingMetric, recommendReplicas, type ScalingHistory } from '@executor/scaling';
import { PermanentError, TemporaryError } from '../kube/errors';
import { ignoreNotFound, isTransient, KubeApiError, type KubeObject } from '../kube/kube-client';
import { isPodReady, objectKey, splitKey } from '../kube/objects';
import { Resources, apiVersionOf, objectPath, type ResourceType } from '../kube/resources';
import { WorkQueue, type ReconcileResult } from '../kube/work-queue';
import type { PoolRegistrar } from '../registry/pool-registrar';
import type { DeploymentObject, LeaderScope, PoolObject } from '../runtime/shared';
import { desiredChildren, type BuildContext } from './desired';
import { dropPoolRedisUser, ensurePoolRedisUser } from './redis-user';
import { LABELS, OPERATOR_NAME, childNames, selectorString } from './names';
import { computePoolStatus, statusChanged, type PoolObservation, type PoolProblem } from './pool-status';

/** Where the pool reconciler gets the latest queue depth of a pool. */
export interface DepthSource {
  depthOf(poolKey: string): number | undefined;
}

/**
 * Reconciles ExecutorPools: validates the spec (PermanentError + InvalidSpec condition naming the field),
 * server-side applies the children (ConfigMap, Deployment, Service, PDB, HPA) with ownerReferences,
 * scales in `scaling.mode: operator`, writes the status subresource and registers the pool with the
 * load balancer.
 */
export class PoolController {
  private readonly logger = new Logger(PoolController.name);
  readonly queue: WorkQueue;
  private readonly scaling = new Map<string, { history?: ScalingHistory; lastAt: number }>();
  private readonly hpaGone = new Set<string>();

  constructor(
    private readonly scope: LeaderScope,
    private readonly build: BuildContext,
    private readonly registrar: PoolRegistrar,
    private readonly depth: DepthSource,
  ) {
    const { cfg, metrics } = scope;
    this.queue = new WorkQueue(
      {
        name: 'pool',
        concurrency: cfg.RECONCILE_CONCURRENCY,
        baseDelayMs: cfg.RETRY_BASE_MS,
        maxDelayMs: cfg.RETRY_MAX_MS,
        onDone: (result, ms) => {
          metrics.reconciles.inc({ controller: 'pool', result });
          metrics.reconcileDuration.observe({ controller: 'pool' }, ms / 1000);
        },
      },
      (key) => this.reconcile(key),
    );
    this.wire();
  }

  private wire(): void {
    const { pools, deployments, pods, sessions } = this.scope.informers;
    pools.on((event, obj, old) => {
      // Our own status writes do not change the generation: skip them (resync replays have old === same rv).
      const changed =
        event !== 'update' ||
        !old ||
        old.metadata.resourceVersion === obj.metadata.resourceVersion ||
        old.metadata.generation !== obj.metadata.generation ||
        !!obj.metadata.deletionTimestamp;
      if (changed) this.queue.add(objectKey(obj));
    });
    const byPoolLabel = (o: KubeObject): void => {
      const pool = o.metadata.labels?.[LABELS.pool];
      if (pool && o.metadata.namespace) this.queue.add(`${o.metadata.namespace}/${pool}`);
    };
    deployments.on((_e, obj) => byPoolLabel(obj));
    pods.on((event, obj, old) => {
      if (event !== 'update' || !old || isPodReady(old) !== isPodReady(obj)) byPoolLabel(obj);
    });
    sessions.on((event, obj, old) => {
      if (event !== 'update' || old?.status?.phase !== obj.status?.phase) {
        if (obj.metadata.namespace) this.queue.add(`${obj.metadata.namespace}/${obj.spec.pool}`);
      }
    });
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const { namespace, name } = splitKey(key);
    const raw = this.scope.informers.pools.get(namespace, name);
    if (!raw) return this.forget(key, name);
    if (raw.metadata.deletionTimestamp) return; // the garbage collector removes the children
    const valid = validatePool(raw, { unknownFields: 'prune' });
    if (!valid.ok) {
      const message = formatErrors(valid.errors);
      await this.writeStatus(
        raw,
        computePoolStatus(raw as unknown as ResolvedPool, emptyObservation(), new Date(), {
          reason: PoolConditionReason.InvalidSpec,
          message,
        }),
      );
      throw new PermanentError(`invalid spec: ${message}`, valid.errors[0]?.field);
    }
    const pool = valid.value;
    let deployment: DeploymentObject;
    try {
      deployment = await this.applyChildren(pool);
      if (pool.spec.scaling.mode === ScalingMode.Operator)
        deployment = await this.scale(key, pool, deployment);
    } catch (err) {
      return this.onApplyError(raw, pool, err);
    }
    const status = computePoolStatus(pool, this.observe(key, pool, deployment), new Date());
    await this.writeStatus(raw, status);
    await this.registrar.register(pool);
    const every =
      pool.spec.scaling.mode === ScalingMode.Operator
        ? this.scope.cfg.SCALE_INTERVAL_SECONDS
        : this.scope.cfg.STATUS_INTERVAL_SECONDS;
    return { requeueAfterMs: every * 1000 };
  }

  private async forget(key: string, name: string): Promise<void> {
    this.scaling.delete(key);
    this.hpaGone.delete(key);
    await this.registrar.deregister(name);
    if (this.build.redisUsers === 'per-pool')
      await dropPoolRedisUser(this.scope, name).catch((err: Error) =>
        this.logger.warn(`redis user of pool ${name} not removed: ${err.message}`),
      );
  }

  /** Applies every child; returns the Deployment as the API server stored it. */
  private async applyChildren(pool: ResolvedPool): Promise<DeploymentObject> {
    const c = desiredChildren(pool, this.build);
    const ns = pool.metadata.namespace;
    // Before the Deployment: its REDIS_URL comes from the pool's Secret.
    if (this.build.redisUsers === 'per-pool') await ensurePoolRedisUser(this.scope, pool);
    await this.apply(Resources.configMap, ns, c.configMap);
    const deployment = await this.apply<DeploymentObject>(Resources.deployment, ns, c.deployment);
    await this.apply(Resources.service, ns, c.service);
    await this.apply(Resources.pdb(this.build.pdbApiVersion.split('/')[1] as string), ns, c.pdb);
    const hpaType = Resources.hpa(this.build.hpaApiVersion.split('/')[1] as string);
    const key = objectKey(pool);
    if (c.hpa) {
      await this.apply(hpaType, ns, c.hpa);
      this.hpaGone.delete(key);
    } else if (!this.hpaGone.has(key)) {
      // scaling.mode switched to operator: the HPA must go, or both would write replicas.
      await this.scope.client
        .delete(objectPath(hpaType, ns, childNames(pool.metadata.name).workload))
        .catch(ignoreNotFound);
      this.hpaGone.add(key);
    }
    return deployment;
  }

  private apply<T>(type: ResourceType, namespace: string | undefined, obj: KubeObject): Promise<T> {
    if (obj.apiVersion !== apiVersionOf(type))
      throw new Error(`apiVersion mismatch: ${obj.apiVersion} vs ${apiVersionOf(type)}`);
    return this.scope.client.apply<T>(objectPath(type, namespace, obj.metadata.name), obj, OPERATOR_NAME);
  }

  /**
   * `scaling.mode: operator`: every SCALE_INTERVAL_SECONDS, libs/scaling recommends replicas from CPU
   * (metrics.k8s.io, when served) and queue depth; the result goes to the pool's scale subresource
   * (`spec.replicas`, so `kubectl scale` works too), and the pool's `spec.replicas` to the Deployment's
   * scale subresource.
   */
  private async scale(
    key: string,
    pool: ResolvedPool,
    deployment: DeploymentObject,
  ): Promise<DeploymentObject> {
    const { client } = this.scope;
    const ns = pool.metadata.namespace;
    const s = pool.spec;
    const current = deployment.spec?.replicas ?? 1;
    let target = s.replicas;
    const state = this.scaling.get(key) ?? { lastAt: 0 };
    const now = Date.now();
    if (now - state.lastAt >= this.scope.cfg.SCALE_INTERVAL_SECONDS * 1000 - 50) {
      const rec = recommendReplicas({
        now,
        currentReplicas: current,
        cpuUtilizationPercent: s.scaling.metrics.includes(ScalingMetric.Cpu)
          ? await this.cpuUtilization(pool)
          : undefined,
        queueDepth: this.depth.depthOf(key),
        config: {
          minReplicas: Math.max(1, s.minReplicas),
          maxReplicas: Math.max(1, s.maxReplicas),
          targetCPUUtilizationPercentage: s.targetCPUUtilizationPercentage,
          scaleDownCPUUtilizationPercentage: s.scaleDownCPUUtilizationPercentage,
          queueDepthScaleUpPerPod: s.scaleUpQueueDepthPerPod,
          queueDepthScaleDownPerPod: s.scaleDownQueueDepthPerPod,
          behavior: s.scaling.behavior,
          metrics: [...s.scaling.metrics],
        },
        history: state.history,
      });
      this.scaling.set(key, { history: rec.history, lastAt: now });
      if (rec.desiredReplicas !== s.replicas) {
        this.logger.log(`${key}: ${rec.reason} ${current} → ${rec.desiredReplicas}: ${rec.message}`);
        await client.mergePatch(objectPath(Resources.pool, ns, pool.metadata.name, 'scale'), {
          spec: { replicas: rec.desiredReplicas },
        });
      }
      target = rec.desiredReplicas;
    }
    const want = Math.min(s.maxReplicas, Math.max(s.minReplicas, target ?? s.minReplicas));
    if (want === current) return deployment;
    await client.mergePatch(
      objectPath(Resources.deployment, ns, childNames(pool.metadata.name).workload, 'scale'),
      {
        spec: { replicas: want },
      },
    );
    return { ...deployment, spec: { ...deployment.spec, replicas: want } };
  }

  /** Average CPU utilization (% of requests) of the pool's pods from metrics.k8s.io; undefined without it. */
  private async cpuUtilization(pool: ResolvedPool): Promise<number | undefined> {
    if (!this.scope.versions.podMetrics) return undefined;
    try {
      const list = await this.scope.client.list<{ containers: { usage: { cpu: string } }[] }>(
        `/apis/metrics.k8s.io/v1beta1/namespaces/${pool.metadata.namespace}/pods`,
        { labelSelector: selectorString(pool.metadata.name) },
      );
      if (list.items.length === 0) return undefined;
      const used = list.items.reduce(
        (sum, p) => sum + p.containers.reduce((s, c) => s + parseQuantity(c.usage.cpu), 0),
        0,
      );
      const requested = list.items.length * parseQuantity(pool.spec.resources.requests.cpu);
      return requested > 0 ? (used / requested) * 100 : undefined;
    } catch (err) {
      this.logger.debug(`pod metrics of ${pool.metadata.name}: ${(err as Error).message}`);
      return undefined;
    }
  }

  private observe(key: string, pool: ResolvedPool, deployment: DeploymentObject): PoolObservation {
    const { pods, sessions } = this.scope.informers;
    const ns = pool.metadata.namespace;
    const name = pool.metadata.name;
    const poolPods = pods
      .list()
      .filter((p) => p.metadata.namespace === ns && p.metadata.labels?.[LABELS.pool] === name);
    return {
      desiredReplicas: deployment.spec?.replicas,
      currentReplicas: deployment.status?.replicas ?? 0,
      readyPods: poolPods.filter(isPodReady).length,
      activeSessions: sessions
        .list()
        .filter(
          (s) =>
            s.metadata.namespace === ns &&
            s.spec.pool === name &&
            !s.metadata.deletionTimestamp &&
            !TERMINAL_SESSION_PHASES.includes(s.status?.phase ?? 'Pending'),
        ).length,
      queueDepth: this.depth.depthOf(key),
    };
  }

  /** Writes `status` through the status subresource, only when it changed. */
  private async writeStatus(pool: PoolObject, status: ExecutorPoolStatus): Promise<void> {
    if (!statusChanged(pool.status ?? {}, status)) return;
    await this.scope.client.mergePatch(
      objectPath(Resources.pool, pool.metadata.namespace, pool.metadata.name, 'status'),
      {
        status,
      },
    );
  }

  /** Classifies a failed apply: transient → TemporaryError (Degraded/ReconcileFailed), else PermanentError. */
  private async onApplyError(raw: PoolObject, pool: ResolvedPool, err: unknown): Promise<never> {
    const message = err instanceof Error ? err.message : String(err);
    const problem: PoolProblem = { reason: PoolConditionReason.ReconcileFailed, message };
    const dep =
      this.scope.informers.deployments.get(
        pool.metadata.namespace,
        childNames(pool.metadata.name).workload,
      ) ?? emptyDeployment(pool);
    await this.writeStatus(
      raw,
      computePoolStatus(pool, this.observe(objectKey(pool), pool, dep), new Date(), problem),
    ).catch((e: Error) => this.logger.debug(`status after failure: ${e.message}`));
    if (err instanceof KubeApiError && !isTransient(err) && err.status !== 403 && err.status !== 404) {
      throw new PermanentError(`the API server rejected a child of the pool: ${message}`);
    }
    throw new TemporaryError(message, undefined, { cause: err });
  }
}

function emptyObservation(): PoolObservation {
  return { readyPods: 0, activeSessions: 0 };
}

function emptyDeployment(pool: ResolvedPool): DeploymentObject {
  return {
    metadata: {
      name: childNames(pool.metadata.name).workload,
      namespace: pool.metadata.namespace,
      resourceVersion: '0',
    },
  };
}
