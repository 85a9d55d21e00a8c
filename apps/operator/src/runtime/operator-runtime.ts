import { Logger } from '@nestjs/common';
import { operatorIdentity } from '../config/operator-config';
import { QueueDepthMonitor } from '../depth/queue-depth.monitor';
import { discoverVersions } from '../kube/discovery';
import { Informer } from '../kube/informer';
import type { KubeObject } from '../kube/kube-client';
import { Resources, collectionPath, type ResourceType } from '../kube/resources';
import { LeaderElector } from '../leader/leader-elector';
import { LABELS, OPERATOR_NAME } from '../pools/names';
import { PoolController } from '../pools/pool.controller';
import { PoolRegistrar } from '../registry/pool-registrar';
import { SessionEventsConsumer } from '../sessions/session-events.consumer';
import { SessionController } from '../sessions/session.controller';
import type { Informers, LeaderScope, OperatorDeps } from './shared';

/** Everything that runs only while this replica leads. */
interface Term {
  scope: LeaderScope;
  pools: PoolController;
  sessions: SessionController;
  depth: QueueDepthMonitor;
  events: SessionEventsConsumer;
}

/**
 * The operator: campaigns for the Lease (unless LEADER_ELECTION=false) and, while it leads, runs the
 * informers, the pool and session controllers, the queue-depth monitor and the session-event consumer.
 * Losing the lease stops all of them before another replica may take over.
 */
export class OperatorRuntime {
  private readonly logger = new Logger(OperatorRuntime.name);
  private readonly registrar: PoolRegistrar;
  private elector: LeaderElector | undefined;
  private term: Term | undefined;
  private starting: Promise<void> | undefined;

  constructor(readonly deps: OperatorDeps) {
    this.registrar = new PoolRegistrar(deps.rpc);
  }

  /** True while this replica acts (leader, caches synced). */
  get acting(): boolean {
    return !!this.term;
  }

  /** The current leader term's controllers (tests). */
  get current(): Term | undefined {
    return this.term;
  }

  async start(): Promise<void> {
    const { cfg, client } = this.deps;
    if (!cfg.LEADER_ELECTION) {
      await this.startActing();
      return;
    }
    this.elector = new LeaderElector(
      client,
      {
        namespace: cfg.LEASE_NAMESPACE,
        name: cfg.LEASE_NAME,
        identity: operatorIdentity(cfg),
        leaseDurationSeconds: cfg.LEASE_DURATION_SECONDS,
        renewDeadlineMs: cfg.LEASE_RENEW_DEADLINE_MS,
        retryPeriodMs: cfg.LEASE_RETRY_PERIOD_MS,
      },
      { onStartedLeading: () => this.startActing(), onStoppedLeading: () => this.stopActing() },
    );
    this.elector.start();
  }

  async stop(): Promise<void> {
    if (this.elector) await this.elector.stop();
    else await this.stopActing();
  }

  private async startActing(): Promise<void> {
    this.starting = this.doStart();
    try {
      await this.starting;
    } finally {
      this.starting = undefined;
    }
  }

  private async doStart(): Promise<void> {
    const { cfg, client, metrics } = this.deps;
    const versions = await discoverVersions(client);
    const informers = this.makeInformers();
    const scope: LeaderScope = { ...this.deps, versions, informers };
    const build = {
      imageRegistry: cfg.EXECUTOR_IMAGE_REGISTRY,
      imageTag: cfg.EXECUTOR_IMAGE_TAG,
      redisUsers: cfg.EXECUTOR_REDIS_USERS,
      redisSecretName: cfg.EXECUTOR_REDIS_SECRET_NAME,
      redisSecretKey: cfg.EXECUTOR_REDIS_SECRET_KEY,
      queuePrefix: cfg.QUEUE_PREFIX,
      sandbox: cfg.EXECUTOR_SANDBOX,
      hpaApiVersion: versions.hpaApiVersion,
      pdbApiVersion: versions.pdbApiVersion,
    };
    // The monitor re-queues pools whose depth changed; it starts after `pools` exists.
    const depth = new QueueDepthMonitor(scope, (key) => pools.queue.add(key));
    const pools = new PoolController(scope, build, this.registrar, depth);
    const sessions = new SessionController(scope);
    const events = new SessionEventsConsumer(cfg, sessions, metrics);
    const all = Object.values(informers) as Informer<KubeObject>[];
    try {
      await Promise.all(all.map((i) => i.start()));
      pools.queue.start();
      sessions.queue.start();
      depth.start();
      await events.start();
    } catch (err) {
      await Promise.all([
        events.stop(),
        depth.stop(),
        pools.queue.stop(),
        sessions.queue.stop(),
        ...all.map((i) => i.stop()),
      ]);
      throw err;
    }
    this.term = { scope, pools, sessions, depth, events };
    metrics.leader.set(1);
    this.logger.log(
      `acting on ${cfg.WATCH_NAMESPACE || 'all namespaces'} (${versions.hpaApiVersion}, ${versions.pdbApiVersion}): ` +
        `${informers.pools.list().length} pool(s), ${informers.sessions.list().length} session(s)`,
    );
  }

  private async stopActing(): Promise<void> {
    await this.starting?.catch(() => undefined);
    const term = this.term;
    if (!term) return;
    this.term = undefined;
    this.deps.metrics.leader.set(0);
    await term.events.stop();
    await term.depth.stop();
    await Promise.all([term.pools.queue.stop(), term.sessions.queue.stop()]);
    await Promise.all(Object.values(term.scope.informers).map((i: Informer<KubeObject>) => i.stop()));
    this.registrar.reset();
    this.logger.log('stopped acting');
  }

  private makeInformers(): Informers {
    const { cfg, client, metrics } = this.deps;
    const make = <T extends KubeObject>(
      type: ResourceType,
      name: string,
      labelSelector?: string,
    ): Informer<T> =>
      new Informer<T>(client, {
        name,
        path: collectionPath(type, cfg.WATCH_NAMESPACE || undefined),
        labelSelector,
        resyncMs: cfg.RESYNC_SECONDS * 1000,
        backoffMaxMs: cfg.WATCH_BACKOFF_MAX_MS,
        onRestart: (reason) => metrics.watchRestarts.inc({ resource: name, reason }),
      });
    return {
      pools: make(Resources.pool, 'executorpools'),
      sessions: make(Resources.session, 'executorsessions'),
      deployments: make(Resources.deployment, 'deployments', `${LABELS.managedBy}=${OPERATOR_NAME}`),
      pods: make(Resources.pod, 'pods', LABELS.pool),
    };
  }
}
