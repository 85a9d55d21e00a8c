import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker, type Job } from 'bullmq';
import Redis from 'ioredis';
import { startRedis, type TestRedis } from '@executor/testing';
import {
  AclUsers,
  DEFAULT_USER_ACL_LINE,
  aclSetUserArgs,
  executorAclRules,
  executorAclUser,
  executorTag,
  poolOfTaggedJobId,
  redisUrlFor,
  tagOfJobId,
  renderAclFile,
  type ExecutorScope,
  type StaticAclUser,
} from './acl';
import { ACL_MANIFEST_PATH, aclConfigMapYaml } from './acl-manifest';
import { bullConnection, createRedis } from './connection';
import { writeHeartbeat } from './heartbeat';
import { QueueNames, podQueueName } from './names';
import { JobRpcClient, publishReplies } from './rpc';
import { PersistenceJobDefs, PodJobDefs } from './schemas';
import { putTransfer, takeTransfer } from './transfer';

const PREFIX = 'executor';
const PASSWORD: Record<StaticAclUser, string> = {
  admin: 'admin-pw-0123456789',
  'load-balancer': 'lb-pw-0123456789',
  persistence: 'persistence-pw-0123456789',
  operator: 'operator-pw-0123456789',
  monitor: 'monitor-pw-0123456789',
};
const POD_A: ExecutorScope = { pool: 'py', pod: 'py-aaaaaa' };
const POD_B: ExecutorScope = { pool: 'py', pod: 'py-bbbbbb' };

describe('Redis ACL rules per component (real redis-server, real BullMQ)', () => {
  let redis: TestRedis;
  let dir: string;
  let admin: Redis;
  const clients: Redis[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  const url = (user: string, password: string): string => redisUrlFor(redis.url, user, password);
  const staticUrl = (u: StaticAclUser): string => url(u, PASSWORD[u]);
  const executorUrl = (s: ExecutorScope): string => url(executorAclUser(s), `pw-${executorAclUser(s)}`);
  const connect = (u: string): Redis => {
    const c = createRedis(u, { maxRetriesPerRequest: 1, retryStrategy: () => null });
    c.on('error', () => undefined);
    clients.push(c);
    return c;
  };
  /** A Queue on its own connection as the same user (closed after the suite). */
  const queueOn = (r: Redis, name: string): Queue => {
    const d = r.duplicate();
    d.on('error', () => undefined);
    clients.push(d);
    const q = new Queue(name, { connection: d, prefix: PREFIX });
    closers.push(() => q.close());
    return q;
  };
  const addExecutorUser = async (s: ExecutorScope): Promise<void> => {
    await admin.call(
      'ACL',
      ...aclSetUserArgs(executorAclUser(s), `pw-${executorAclUser(s)}`, executorAclRules(s, PREFIX)),
    );
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'acl-'));
    const file = join(dir, 'users.acl');
    // The test keeps `default` as its own superuser (to arrange and inspect); every component
    // connects as its own user exactly as rendered for the platform.
    writeFileSync(
      file,
      renderAclFile((u) => PASSWORD[u], PREFIX).replace(
        DEFAULT_USER_ACL_LINE,
        'user default on nopass ~* &* +@all',
      ),
    );
    redis = await startRedis({ args: ['--aclfile', file] });
    admin = createRedis(redis.url);
    clients.push(admin);
    for (const s of [POD_A, POD_B, { pool: 'py' }, { pool: 'py-data' }]) await addExecutorUser(s);
  });

  afterAll(async () => {
    for (const c of closers.reverse()) await c();
    for (const c of clients) c.disconnect();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('BullMQ works under the rules: LB → executor pod queue → persistence queue → replies', async () => {
    // The "persistence service": a worker on its queue with its own user.
    const persistenceRedis = connect(staticUrl(AclUsers.persistence));
    const restoreWorker = new Worker(
      QueueNames.restore,
      async (job: Job) => {
        const ref = await putTransfer(persistenceRedis, Buffer.from(`state of ${job.data.sessionId}`), {
          prefix: PREFIX,
          scope: tagOfJobId(job.id),
        });
        return { found: true, version: 3, state: ref, requester: poolOfTaggedJobId(job.id) };
      },
      { connection: bullConnection(staticUrl(AclUsers.persistence)), prefix: PREFIX },
    );
    publishReplies(restoreWorker, persistenceRedis, PREFIX);
    closers.push(() => restoreWorker.close());

    // The "executor": a worker on its pod queue, a JobRpcClient towards persistence, heartbeats.
    const execRedis = connect(executorUrl(POD_A));
    const toPersistence = new JobRpcClient({
      redisUrl: executorUrl(POD_A),
      prefix: PREFIX,
      jobIdPrefix: executorTag(POD_A),
    });
    closers.push(() => toPersistence.close());
    const seen: string[] = [];
    const podWorker = new Worker(
      podQueueName(POD_A.pod as string),
      async (job: Job) => {
        const restored = await toPersistence.call(
          QueueNames.restore,
          PersistenceJobDefs.restore,
          { sessionId: job.data.sessionId },
          { timeoutMs: 10_000 },
        );
        seen.push(restored.state ? (await takeTransfer(execRedis, restored.state)).toString() : '');
        await toPersistence.send(QueueNames.persistenceAdmin, PersistenceJobDefs.delete, {
          sessionId: job.data.sessionId,
        });
        return { pod: POD_A.pod, restored: true, restoredVersion: restored.version };
      },
      { connection: bullConnection(executorUrl(POD_A)), prefix: PREFIX },
    );
    publishReplies(podWorker, execRedis, PREFIX);
    closers.push(() => podWorker.close());
    await podWorker.waitUntilReady();
    await writeHeartbeat(
      execRedis,
      {
        pool: POD_A.pool,
        pod: POD_A.pod as string,
        template: 'python',
        capacity: 1,
        sessions: 0,
        running: 0,
        load: 0,
        version: 't',
        queue: podQueueName(POD_A.pod as string),
        accepting: true,
        startedAt: new Date().toISOString(),
        at: new Date().toISOString(),
      },
      { prefix: PREFIX },
    );

    // The "load balancer".
    const lb = new JobRpcClient({ redisUrl: staticUrl(AclUsers.loadBalancer), prefix: PREFIX });
    closers.push(() => lb.close());
    const result = await lb.call(
      podQueueName(POD_A.pod as string),
      PodJobDefs.open,
      {
        sessionId: 's-1',
        tenant: 'acme',
        template: 'python',
        pool: 'py',
        persist: true,
        ttlSeconds: 60,
        env: {},
        metadata: {},
        restore: true,
      },
      { timeoutMs: 10_000 },
    );
    expect(result).toEqual({ pod: POD_A.pod, restored: true, restoredVersion: 3 });
    expect(seen).toEqual(['state of s-1']);
    // The restore job's id carries the executor's tag: persistence knows which pool asked.
    const restoreQueue = new Queue(QueueNames.restore, { connection: admin, prefix: PREFIX });
    closers.push(() => restoreQueue.close());
    const done = await restoreQueue.getJobs(['completed']);
    expect(done.map((j) => j.returnvalue.requester)).toEqual(['py']);
    const adminQueue = new Queue(QueueNames.persistenceAdmin, { connection: admin, prefix: PREFIX });
    closers.push(() => adminQueue.close());
    const deletes = await adminQueue.getJobs(['waiting']);
    expect(deletes.map((j) => j.id?.startsWith(executorTag(POD_A)))).toEqual([true]);
  });

  describe("an executor's credentials elsewhere: NOPERM", () => {
    let a: Redis;
    beforeAll(async () => {
      a = connect(executorUrl(POD_A));
      await admin.hset(`${PREFIX}:lb:s:ses-1`, 'tenant', 'other', 'env', '{"SECRET":"x"}');
      await admin.set(`${PREFIX}:state:blob:abc`, 'stored state');
      await admin.rpush(`${PREFIX}:${podQueueName(POD_B.pod as string)}:wait`, '1');
    });

    it.each<[string, (r: Redis) => Promise<unknown>]>([
      ["another pod's queue", (r) => r.lrange(`${PREFIX}:pod-${POD_B.pod}:wait`, 0, -1)],
      ["another pod's job", (r) => r.hgetall(`${PREFIX}:pod-${POD_B.pod}:1`)],
      ["another pod's heartbeat", (r) => r.set(`${PREFIX}:hb:pod:${POD_B.pod}`, 'x')],
      ["another pool's heartbeat set", (r) => r.sadd(`${PREFIX}:hb:pool:node`, 'x')],
      ["the LB's session keys", (r) => r.hgetall(`${PREFIX}:lb:s:ses-1`)],
      ["the LB's session lease", (r) => r.zrange(`${PREFIX}:lb:expiry`, 0, -1)],
      ['the persistence store', (r) => r.get(`${PREFIX}:state:blob:abc`)],
      ['removing pools from the heartbeat set', (r) => r.srem(`${PREFIX}:hb:pools`, 'py')],
      ['KEYS *', (r) => r.keys('*')],
      ['SCAN', (r) => r.scan(0)],
      ['RANDOMKEY', (r) => r.randomkey()],
      ['CONFIG GET', (r) => r.config('GET', 'requirepass')],
      ['CONFIG SET', (r) => r.config('SET', 'appendonly', 'no')],
      ['FLUSHALL', (r) => r.flushall()],
      ['FLUSHDB', (r) => r.flushdb()],
      ['ACL SETUSER', (r) => r.call('ACL', 'SETUSER', 'evil', 'on', '>x', '~*', '+@all')],
      ['ACL LIST', (r) => r.call('ACL', 'LIST')],
      ['CLIENT LIST', (r) => r.call('CLIENT', 'LIST')],
      ['CLIENT KILL', (r) => r.call('CLIENT', 'KILL', 'ID', '1')],
      ['SWAPDB', (r) => r.call('SWAPDB', '0', '1')],
      ['BGSAVE', (r) => r.call('BGSAVE')],
      ['SCRIPT FLUSH', (r) => r.call('SCRIPT', 'FLUSH')],
      ['PUBSUB CHANNELS', (r) => r.call('PUBSUB', 'CHANNELS')],
      ['MONITOR', (r) => r.call('MONITOR')],
      ['SHUTDOWN', (r) => r.call('SHUTDOWN', 'NOSAVE')],
      [
        'a script touching other keys',
        (r) => r.eval(`return redis.call('GET', KEYS[1])`, 1, `${PREFIX}:state:blob:abc`),
      ],
      [
        'a job in a persistence queue with another tag',
        (r) =>
          queueOn(r, QueueNames.restore).add(
            'state.restore',
            { sessionId: 'x' },
            { jobId: `${executorTag(POD_B)}1` },
          ),
      ],
      ['an untagged job in a persistence queue', (r) => queueOn(r, QueueNames.snapshot).add('x', {})],
      ["another executor's transfer", (r) => r.getdel(`${PREFIX}:xfer:${executorTag(POD_B)}x`)],
      ['an untagged transfer', (r) => r.get(`${PREFIX}:xfer:0c6a4f1e-0000`)],
      ['a transfer of another tag', (r) => putTransfer(r, Buffer.from('x'), { prefix: PREFIX })],
      ['the session-events queue', (r) => r.llen(`${PREFIX}:${QueueNames.sessionEvents}:wait`)],
      ['publishing on a non-platform channel', (r) => r.publish('other', 'x')],
    ])('%s', async (_what, attempt) => {
      await expect(attempt(a)).rejects.toThrow(/NOPERM|No permissions|can't access/);
    });

    it("cannot subscribe to the load balancers' reply channels (only its own)", async () => {
      const sub = connect(executorUrl(POD_A));
      await expect(sub.subscribe(`${PREFIX}:replies:lb-1`)).rejects.toThrow(
        /NOPERM|No permissions|can't access/,
      );
      const own = connect(executorUrl(POD_A));
      await expect(own.subscribe(`${PREFIX}:replies:${executorTag(POD_A)}x1`)).resolves.toBe(1);
    });

    it('may publish replies and stream events, write its own heartbeat and use transfers', async () => {
      await expect(a.publish(`${PREFIX}:replies:lb-1`, '{}')).resolves.toBe(0);
      await expect(a.publish(`${PREFIX}:stream:abc`, '{}')).resolves.toBe(0);
      await expect(a.set(`${PREFIX}:hb:pod:${POD_A.pod}`, 'x', 'PX', 100)).resolves.toBe('OK');
      await expect(a.sadd(`${PREFIX}:hb:pools`, 'py')).resolves.toBeGreaterThanOrEqual(0);
      const ref = await putTransfer(a, Buffer.from('abc'), { prefix: PREFIX, scope: executorTag(POD_A) });
      expect((await takeTransfer(a, ref)).toString()).toBe('abc');
    });
  });

  describe('pool-scoped executor users (Kubernetes: one user per pool)', () => {
    it("reach every pod of the pool and no pod of a pool whose name extends the pool's", async () => {
      const pool = connect(executorUrl({ pool: 'py' }));
      await expect(pool.llen(`${PREFIX}:pod-py-7d9f8c6b5-x2x4z:wait`)).resolves.toBe(0);
      await expect(pool.llen(`${PREFIX}:pod-py-5c6d8f9b7d-abcde:wait`)).resolves.toBe(0);
      await expect(pool.set(`${PREFIX}:hb:pod:py-7d9f8c6b5-x2x4z`, '1')).resolves.toBe('OK');
      for (const key of [
        `${PREFIX}:pod-py-data-7d9f8c6b5-x2x4z:wait`,
        `${PREFIX}:pod-py-data-abc:wait`,
        `${PREFIX}:hb:pod:py-data-7d9f8c6b5-x2x4z`,
      ])
        await expect(pool.llen(key)).rejects.toThrow(/NOPERM|No permissions|can't access/);
      const data = connect(executorUrl({ pool: 'py-data' }));
      await expect(data.llen(`${PREFIX}:pod-py-7d9f8c6b5-x2x4z:wait`)).rejects.toThrow(/NOPERM/);
    });
  });

  describe('static users', () => {
    it('the load balancer reaches every queue and its state, not the persistence store nor admin commands', async () => {
      const lb = connect(staticUrl(AclUsers.loadBalancer));
      await expect(lb.hgetall(`${PREFIX}:lb:s:ses-1`)).resolves.toMatchObject({ tenant: 'other' });
      await expect(lb.llen(`${PREFIX}:pod-anything:wait`)).resolves.toBeGreaterThanOrEqual(0);
      await expect(lb.get(`${PREFIX}:state:blob:abc`)).rejects.toThrow(/NOPERM/);
      await expect(lb.keys('*')).rejects.toThrow(/NOPERM/);
      await expect(lb.config('GET', '*')).rejects.toThrow(/NOPERM/);
    });

    it('the monitor user reads server stats and no key', async () => {
      const m = connect(staticUrl(AclUsers.monitor));
      await expect(m.info('memory')).resolves.toContain('used_memory');
      await expect(m.get(`${PREFIX}:lb:s:ses-1`)).rejects.toThrow(/NOPERM/);
    });

    it('nobody gets in without a password when default is off (the platform file)', () => {
      expect(renderAclFile((u) => PASSWORD[u], PREFIX).split('\n')[0]).toBe(DEFAULT_USER_ACL_LINE);
    });
  });
});

describe('what Kubernetes ships is what acl.ts says', () => {
  const root = join(__dirname, '..', '..', '..', '..');
  it(`${ACL_MANIFEST_PATH} is generated from the rules (npx nx run queues:generate-acl)`, () => {
    const shipped = readFileSync(join(root, ACL_MANIFEST_PATH), 'utf8');
    const prefix = /QUEUE_PREFIX: (\S+)/.exec(
      readFileSync(join(root, 'k8s/config/deployment/platform-config.yaml'), 'utf8'),
    )?.[1];
    expect(prefix).toBe('executor');
    expect(shipped).toBe(aclConfigMapYaml(prefix));
  });
});
