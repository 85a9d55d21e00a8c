import { Logger } from '@nestjs/common';
import type { PodHeartbeat } from '@executor/queues';
import { TERMINAL_SESSION_PHASES } from '@executor/crd';
import { ignoreNotFound } from '../kube/kube-client';
import { objectKey } from '../kube/objects';
import { Resources, objectPath } from '../kube/resources';
import { LABELS, POD_DELETION_COST_ANNOTATION } from '../pools/names';
import type { LeaderScope, PodObject } from '../runtime/shared';
import { readPoolDepth } from './pool-depth';

/**
 * Every QUEUE_DEPTH_INTERVAL_MS: reads each pool's BullMQ depth from Redis (pods = the pool's pods
 * in Kubernetes ∪ its heartbeat set), exports executor_pool_queue_depth{pool} and
 * executor_pod_queue_depth{pool,pod}, re-queues pools whose depth changed (status.queueDepth), and
 * annotates pods with controller.kubernetes.io/pod-deletion-cost = sessions held, so a scale-down
 * removes the emptiest pods first.
 */
export class QueueDepthMonitor {
  private readonly logger = new Logger(QueueDepthMonitor.name);
  private readonly depths = new Map<string, number>();
  private readonly exportedPods = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly scope: LeaderScope,
    private readonly onDepthChanged: (poolKey: string) => void,
  ) {}

  depthOf(poolKey: string): number | undefined {
    return this.depths.get(poolKey);
  }

  start(): void {
    const tick = (): void => {
      if (this.running) return; // a slow read is never overlapped
      this.running = this.tick()
        .catch((err: Error) => this.logger.warn(`queue depth: ${err.message}`))
        .finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.scope.cfg.QUEUE_DEPTH_INTERVAL_MS);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    this.depths.clear();
    this.exportedPods.clear();
    this.scope.metrics.poolQueueDepth.reset();
    this.scope.metrics.podQueueDepth.reset();
  }

  /** One reading of every pool (exposed for tests). */
  async tick(): Promise<void> {
    const { informers, redis, cfg, metrics } = this.scope;
    const seenPools = new Set<string>();
    for (const pool of informers.pools.list()) {
      const key = objectKey(pool);
      const name = pool.metadata.name;
      seenPools.add(key);
      const kubePods = informers.pods
        .list()
        .filter(
          (p) =>
            p.metadata.namespace === pool.metadata.namespace &&
            p.metadata.labels?.[LABELS.pool] === name &&
            !p.metadata.deletionTimestamp,
        );
      const { total, perPod, beats } = await readPoolDepth(
        redis,
        cfg.QUEUE_PREFIX,
        name,
        kubePods.map((p) => p.metadata.name),
      );
      for (const [pod, d] of perPod) metrics.podQueueDepth.set({ pool: name, pod }, d);
      for (const gone of [...(this.exportedPods.get(key) ?? [])].filter((p) => !perPod.has(p))) {
        metrics.podQueueDepth.remove({ pool: name, pod: gone });
      }
      this.exportedPods.set(key, new Set(perPod.keys()));
      metrics.poolQueueDepth.set({ pool: name }, total);
      if (this.depths.get(key) !== total) {
        this.depths.set(key, total);
        this.onDepthChanged(key);
      }
      await this.annotateDeletionCost(name, kubePods, beats);
    }
    for (const key of [...this.depths.keys()].filter((k) => !seenPools.has(k))) {
      const name = key.slice(key.indexOf('/') + 1);
      this.depths.delete(key);
      metrics.poolQueueDepth.remove({ pool: name });
      for (const pod of this.exportedPods.get(key) ?? []) metrics.podQueueDepth.remove({ pool: name, pod });
      this.exportedPods.delete(key);
    }
  }

  /** Sessions per pod: the executor's heartbeat when live, else the ExecutorSessions on it. */
  private sessionsPerPod(pool: string, pods: PodObject[], beats: PodHeartbeat[]): Map<string, number> {
    const fromObjects = new Map<string, number>();
    for (const s of this.scope.informers.sessions.list()) {
      if (s.spec.pool !== pool || TERMINAL_SESSION_PHASES.includes(s.status?.phase ?? 'Pending')) continue;
      const pod = s.status?.pod ?? s.spec.pod;
      if (pod) fromObjects.set(pod, (fromObjects.get(pod) ?? 0) + 1);
    }
    const fromBeats = new Map(beats.map((b) => [b.pod, b.sessions]));
    return new Map(
      pods.map((p) => [
        p.metadata.name,
        fromBeats.get(p.metadata.name) ?? fromObjects.get(p.metadata.name) ?? 0,
      ]),
    );
  }

  private async annotateDeletionCost(pool: string, pods: PodObject[], beats: PodHeartbeat[]): Promise<void> {
    const sessions = this.sessionsPerPod(pool, pods, beats);
    for (const pod of pods) {
      const n = sessions.get(pod.metadata.name) ?? 0;
      const current = pod.metadata.annotations?.[POD_DELETION_COST_ANNOTATION];
      if (current === String(n) || (current === undefined && n === 0)) continue;
      await this.scope.client
        .mergePatch(objectPath(Resources.pod, pod.metadata.namespace, pod.metadata.name), {
          metadata: { annotations: { [POD_DELETION_COST_ANNOTATION]: String(n) } },
        })
        .catch(ignoreNotFound);
    }
  }
}
