import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import { Queue } from 'bullmq';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type Redis from 'ioredis';
import { QueueNames, createRedis, heartbeatPools, livePods, podQueueName } from '@executor/queues';
import { principalOf, type AuthedRequest } from '../auth/auth';
import { LB_CONFIG, type LbConfig } from '../config/config';
import { logRedisErrors } from '../core/core.module';
import { REDIS } from '../core/tokens';
import { errorBody } from '../http/api-error';
import { redactSessionData } from './redact';

/** The part of a fastify instance the admin plugin uses (platform-fastify ships its own fastify types). */
interface PluginScope {
  addHook(name: 'onRequest', hook: (req: FastifyRequest, reply: FastifyReply) => Promise<void>): void;
  register(plugin: unknown, opts: { prefix: string }): Promise<unknown>;
}

export const ADMIN_BASE_PATH = '/admin/queues';

/**
 * The bull-board UI at /admin/queues over every queue of the platform: the fixed queues plus
 * every pod queue seen in heartbeats (re-discovered every ADMIN_REFRESH_MS). Admin keys only
 * (EXECUTOR_ADMIN_KEYS): `Authorization: Bearer <key>` or basic auth with the key as password
 * (browsers are asked with `WWW-Authenticate: Basic`); a tenant key gets 403. Session code, env
 * values and output in job data and results are redacted unless ADMIN_UI_SESSION_DATA=shown.
 */
@Injectable()
export class AdminService implements OnApplicationShutdown {
  private readonly logger = new Logger(AdminService.name);
  private readonly queues = new Map<string, Queue>();
  private board?: ReturnType<typeof createBullBoard>;
  private timer?: NodeJS.Timeout;
  private connection?: Redis;

  constructor(
    @Inject(LB_CONFIG) private readonly config: LbConfig,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  /** Registers the UI on the app's fastify instance (before `app.init()`). */
  async attach(app: NestFastifyApplication): Promise<void> {
    if (this.config.ADMIN_UI !== 'enabled') return;
    this.connection = createRedis(this.config.REDIS_URL, {
      connectionName: `lb-admin-${this.config.replicaId}`,
    });
    logRedisErrors(this.connection, 'admin-redis');
    const serverAdapter = new BullBoardFastifyAdapter();
    serverAdapter.setBasePath(ADMIN_BASE_PATH);
    this.board = createBullBoard({
      queues: [],
      serverAdapter,
      options: { uiConfig: { boardTitle: 'executor queues' } },
    });
    await this.refresh();
    const auth = this.authHook.bind(this);
    const plugin = async (scope: PluginScope): Promise<void> => {
      scope.addHook('onRequest', auth);
      await scope.register(serverAdapter.registerPlugin(), { prefix: ADMIN_BASE_PATH });
    };
    await app.register(plugin as never);
    this.timer = setInterval(() => void this.refresh(), this.config.ADMIN_REFRESH_MS);
    this.timer.unref();
  }

  /** Names of the queues shown now. */
  queueNames(): string[] {
    return [...this.queues.keys()].sort();
  }

  /** Re-discovers pod queues from heartbeats and updates the board. */
  async refresh(): Promise<void> {
    if (!this.board || !this.connection) return;
    try {
      const names = new Set<string>(Object.values(QueueNames));
      for (const pool of await heartbeatPools(this.redis, this.config.QUEUE_PREFIX)) {
        for (const hb of await livePods(this.redis, pool, this.config.QUEUE_PREFIX))
          names.add(podQueueName(hb.pod));
      }
      for (const [name, q] of this.queues) {
        if (!names.has(name)) {
          this.queues.delete(name);
          await q.close().catch(() => undefined);
        }
      }
      for (const name of names) {
        if (!this.queues.has(name)) {
          this.queues.set(
            name,
            new Queue(name, { connection: this.connection, prefix: this.config.QUEUE_PREFIX }),
          );
        }
      }
      const redact = this.config.ADMIN_UI_SESSION_DATA === 'redacted';
      this.board.replaceQueues(
        [...this.queues.values()].map((q) => {
          const adapter = new BullMQAdapter(q, { readOnlyMode: false });
          if (redact) {
            adapter.setFormatter('data', (d: unknown) => redactSessionData(d));
            adapter.setFormatter('returnValue', (d: unknown) => redactSessionData(d));
          }
          return adapter;
        }),
      );
    } catch (err) {
      this.logger.warn(`admin queue refresh failed: ${(err as Error).message}`);
    }
  }

  private async authHook(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const p = principalOf(req as AuthedRequest, this.config);
    if (p?.role === 'admin') return;
    if (p) {
      await reply
        .status(403)
        .send(errorBody('permission_denied', 'the admin UI needs an admin key (EXECUTOR_ADMIN_KEYS)'));
      return;
    }
    await reply
      .status(401)
      .header('www-authenticate', 'Basic realm="executor admin", charset="UTF-8"')
      .send(
        errorBody(
          'unauthenticated',
          'the admin UI needs an admin key (Bearer, or basic auth with the key as password)',
        ),
      );
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.connection?.disconnect();
  }
}
