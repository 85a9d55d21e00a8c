import { Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import { startRedis, uniquePrefix, type TestRedis } from '@executor/testing';
import { bullConnection, createRedis, redisOptionsFromUrl } from './connection';
import { JobError, parseJobError } from './errors';
import { livePods, podHeartbeat, removeHeartbeat, writeHeartbeat, type PodHeartbeat } from './heartbeat';
import { podFromQueueName, podQueueName, QueueNames } from './names';
import { isDeepStrictEqual } from 'node:util';
import { JobCallError, JobRpcClient, REPLY_TO_FIELD, publishReplies } from './rpc';
import { EventJobDefs, PersistenceJobDefs, PodJobDefs, type JobDef } from './schemas';
import { putTransfer, readTransfer, takeTransfer } from './transfer';
import { parsePayload } from './validate';

const now = new Date().toISOString();
const env = { sessionId: 's-1', tenant: 'acme' };
const blob = { key: 'executor:xfer:x', size: 3 };
const ctx = { id: 'c1', language: 'javascript', cwd: '/home/user' };
const proc = { pid: 42, procId: 'p1', cmd: '/bin/bash', args: ['-c', 'x'], envs: {}, cwd: '/home/user' };
const pipe = { key: 'executor:pipe:0f8fad5b-d9cb-469f-a165-70867728950e', chunkBytes: 65536 };
const entry = {
  name: 'a',
  type: 'file',
  path: '/home/user/a',
  size: 3,
  mode: 0o644,
  permissions: '-rw-r--r--',
  owner: 'user',
  group: 'user',
  modifiedTime: now,
};

/** A valid payload and result for every job type (the round trip proves both schemas). */
const cases: Array<[string, JobDef, unknown, unknown]> = [
  [
    'open',
    PodJobDefs.open,
    {
      ...env,
      template: 'python',
      pool: 'py',
      persist: true,
      ttlSeconds: 300,
      env: {},
      metadata: {},
      restore: false,
    },
    { pod: 'p1', restored: false },
  ],
  [
    'execute',
    PodJobDefs.execute,
    { ...env, executionId: 'e1', code: 'print(1)', timeoutMs: 1000 },
    {
      id: 'e1',
      exitCode: 0,
      stdout: '1\n',
      stderr: '',
      durationMs: 1,
      timedOut: false,
      truncated: false,
      at: now,
    },
  ],
  ['persist', PodJobDefs.persist, env, { version: 1, bytes: 10, at: now }],
  ['close', PodJobDefs.close, { ...env, deleteState: true, reason: 'deleted' }, { closed: true }],
  ['close (paused)', PodJobDefs.close, { ...env, deleteState: false, reason: 'paused' }, { closed: true }],
  ['filesPut', PodJobDefs.filesPut, { ...env, path: 'a.txt', blob }, { size: 3 }],
  ['filesGet', PodJobDefs.filesGet, { ...env, path: 'a.txt' }, { blob, size: 3 }],
  ['filesList', PodJobDefs.filesList, env, { items: [{ path: 'a.txt', size: 3, modifiedAt: now }] }],
  ['filesDelete', PodJobDefs.filesDelete, { ...env, path: 'a.txt' }, { deleted: true }],
  [
    'packagesInstall',
    PodJobDefs.packagesInstall,
    { ...env, manager: 'pip', packages: ['x==1'] },
    { installed: [{ name: 'x', version: '1' }] },
  ],
  ['packagesList', PodJobDefs.packagesList, env, { items: [{ manager: 'pip', name: 'x', version: '1' }] }],
  [
    'execute (rich)',
    PodJobDefs.execute,
    { ...env, executionId: 'e2', code: '1', timeoutMs: 1000, context: 'default', stream: 'q:stream:e2' },
    {
      id: 'e2',
      exitCode: 1,
      stdout: '',
      stderr: 'Traceback…',
      durationMs: 1,
      timedOut: false,
      truncated: false,
      at: now,
      results: [{ isMain: true, 'text/plain': '1', 'application/json': { a: 1 } }],
      error: { name: 'ValueError', value: 'bad', traceback: 'Traceback…' },
      executionCount: 3,
      context: 'default',
    },
  ],
  ['contextCreate', PodJobDefs.contextCreate, { ...env, language: 'js', cwd: '/home/user' }, ctx],
  ['contextList', PodJobDefs.contextList, env, { items: [ctx] }],
  ['contextRestart', PodJobDefs.contextRestart, { ...env, context: 'c1' }, {}],
  ['contextRemove', PodJobDefs.contextRemove, { ...env, context: 'c1' }, {}],
  [
    'processStart',
    PodJobDefs.processStart,
    { ...env, procId: 'p1', cmd: '/bin/bash', args: ['-l', '-c', 'echo hi'], envs: { A: '1' }, stdin: false },
    { pid: 42 },
  ],
  ['processList', PodJobDefs.processList, env, { items: [proc] }],
  [
    'processGet',
    PodJobDefs.processGet,
    { ...env, pid: 42 },
    { ...proc, ended: { exitCode: -1, exited: false, status: 'signal: killed' } },
  ],
  ['processInput', PodJobDefs.processInput, { ...env, pid: 42, data: 'aGkK' }, {}],
  ['processCloseStdin', PodJobDefs.processCloseStdin, { ...env, tag: 't' }, {}],
  ['processSignal', PodJobDefs.processSignal, { ...env, pid: 42, signal: 'SIGKILL' }, {}],
  ['fsStat', PodJobDefs.fsStat, { ...env, path: '/home/user/a' }, { entry }],
  ['fsList', PodJobDefs.fsList, { ...env, path: '/home/user', depth: 2 }, { entries: [entry] }],
  ['fsMkdir', PodJobDefs.fsMkdir, { ...env, path: 'd' }, { entry, created: true }],
  ['fsMove', PodJobDefs.fsMove, { ...env, source: 'a', destination: 'b' }, { entry }],
  ['fsRemove', PodJobDefs.fsRemove, { ...env, path: 'a' }, {}],
  ['fsRead', PodJobDefs.fsRead, { ...env, path: 'a', pipe }, { size: 3 }],
  ['fsWrite', PodJobDefs.fsWrite, { ...env, path: 'a', pipe }, { entry }],
  ['fsWatch', PodJobDefs.fsWatch, { ...env, watchId: 'w1', path: '/home/user', recursive: true }, {}],
  ['fsUnwatch', PodJobDefs.fsUnwatch, { ...env, watchId: 'w1' }, {}],
  [
    'snapshot',
    PersistenceJobDefs.snapshot,
    {
      ...env,
      pool: 'py',
      pod: 'p1',
      template: 'python',
      trigger: 'execution',
      ttlSeconds: 300,
      expiresAt: now,
      baseVersion: null,
      state: blob,
    },
    { version: 1, bytes: 3, storedBytes: 3, newBlobs: 1, at: now },
  ],
  ['restore', PersistenceJobDefs.restore, { sessionId: 's-1' }, { found: true, version: 1, state: blob }],
  ['delete', PersistenceJobDefs.delete, { sessionId: 's-1' }, { deleted: true }],
  ['podSessions', PersistenceJobDefs.podSessions, { pod: 'p1' }, { sessionIds: ['s-1'] }],
  ['touch', PersistenceJobDefs.touch, { sessionId: 's-1', expiresAt: now }, { found: true }],
  [
    'sessionEvent',
    EventJobDefs.sessionEvent['session.created'],
    {
      type: 'session.created',
      ...env,
      pool: 'py',
      pod: 'p1',
      template: 'python',
      persist: true,
      ttlSeconds: 300,
      expiresAt: now,
      at: now,
    },
    {},
  ],
  [
    'podDeleted',
    EventJobDefs.podDeleted,
    { type: 'pod.deleted', pool: 'py', pod: 'p1', reason: 'deleted', at: now },
    {},
  ],
  [
    'poolRegister',
    EventJobDefs.poolRegister,
    { name: 'py', template: 'python', region: 'eu', weight: 2 },
    {},
  ],
  ['poolDeregister', EventJobDefs.poolDeregister, { name: 'py' }, {}],
];

describe('libs/queues against a real redis', () => {
  let redis: TestRedis;
  let prefix: string;
  let client: JobRpcClient;
  let publisher: Redis;
  let worker: Worker;
  const queue = 'contract-test';
  /** The case a job stands for: same name and payload (several cases may share a job name). */
  const caseOf = (job: Job): { def: JobDef; result: unknown } | undefined => {
    const { [REPLY_TO_FIELD]: _r, ...data } = job.data as Record<string, unknown>;
    const same = cases.filter(([, def]) => def.name === job.name);
    const c = same.find(([, , payload]) => isDeepStrictEqual(payload, data)) ?? same[0];
    return c && { def: c[1], result: c[3] };
  };

  beforeAll(async () => {
    redis = await startRedis();
    prefix = uniquePrefix('q');
    publisher = createRedis(redis.url);
    // A consumer that validates every payload at its edge, as the real services do.
    worker = new Worker(
      queue,
      async (job: Job) => {
        const entry = caseOf(job);
        if (!entry) throw new JobError('invalid_argument', `unknown job ${job.name}`);
        parsePayload(entry.def, job.data);
        return entry.result;
      },
      { connection: bullConnection(redis.url), prefix, concurrency: 4 },
    );
    publishReplies(worker, publisher, prefix);
    await worker.waitUntilReady();
    client = new JobRpcClient({ redisUrl: redis.url, prefix });
  });
  afterAll(async () => {
    await client.close();
    await worker.close();
    publisher.disconnect();
    await redis.stop();
  });

  it.each(cases)('round-trips a %s job through a real queue', async (_label, def, payload, result) => {
    await expect(client.call(queue, def, payload as never, { timeoutMs: 10_000 })).resolves.toEqual(result);
  });

  it.each(cases)(
    'rejects a malformed %s payload as unrecoverable, naming the field',
    async (_label, def, payload) => {
      const bad = { ...(payload as object), [Object.keys(payload as object)[0] as string]: 12345 };
      const err = await client.call(queue, def, bad as never, { timeoutMs: 10_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(JobCallError);
      expect((err as JobCallError).code).toBe('invalid_argument');
      expect((err as JobCallError).message).toMatch(/invalid payload for job .*\/\w+/);
      // unrecoverable: attempted once, no retry
      const failed = await client.queue(queue).getFailed();
      expect(failed.every((j) => j.attemptsMade <= 1)).toBe(true);
    },
  );

  it('times out a job nobody consumes and removes it from the queue', async () => {
    const err = await client
      .call('nobody-listens', PodJobDefs.persist, env, { timeoutMs: 200 })
      .catch((e: unknown) => e);
    expect((err as JobCallError).code).toBe('timeout');
    expect(await client.queue('nobody-listens').getWaitingCount()).toBe(0);
  });

  it('withdraws a job nobody started when its consumer drains or dies (safe to resend)', async () => {
    let checks = 0;
    const err = await client
      .call('draining-pod', PodJobDefs.persist, env, {
        timeoutMs: 30_000,
        healthCheckMs: 20,
        consumerHealth: async () => (++checks < 3 ? 'alive' : 'draining'),
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobCallError);
    expect(err).toMatchObject({ code: 'unavailable', notStarted: true });
    expect(checks).toBe(3);
    expect(await client.queue('draining-pod').getWaitingCount()).toBe(0);
  });

  it('fails at once a job whose consumer died while running it (not retried elsewhere)', async () => {
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const stuck = new Worker(
      'dying-pod',
      async () => {
        started();
        await new Promise(() => undefined); // never answers, like a pod killed mid-job
      },
      { connection: bullConnection(redis.url), prefix },
    );
    let dead = false;
    const call = client.call('dying-pod', PodJobDefs.persist, env, {
      timeoutMs: 30_000,
      healthCheckMs: 20,
      consumerHealth: async () => (dead ? 'dead' : 'alive'),
    });
    await running;
    dead = true;
    const err = await call.catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unavailable', notStarted: false });
    await stuck.close(true);
  });

  it('moves bytes through transfers without base64, and a taken transfer is gone', async () => {
    const r = createRedis(redis.url);
    const bytes = Buffer.from([0, 1, 2, 255, 254]);
    const ref = await putTransfer(r, bytes, { prefix });
    expect(await readTransfer(r, ref)).toEqual(bytes);
    expect(await takeTransfer(r, ref)).toEqual(bytes);
    await expect(takeTransfer(r, ref)).rejects.toThrow(/missing/);
    r.disconnect();
  });

  it('tracks live pods by heartbeat and forgets lapsed ones', async () => {
    const r = createRedis(redis.url);
    const hb: PodHeartbeat = {
      pool: 'py',
      pod: 'py-a',
      template: 'python',
      capacity: 10,
      sessions: 1,
      running: 0,
      load: 0.1,
      version: '0.1.0',
      queue: podQueueName('py-a'),
      accepting: true,
      startedAt: now,
      at: now,
    };
    await writeHeartbeat(r, hb, { prefix, ttlMs: 60_000 });
    await writeHeartbeat(r, { ...hb, pod: 'py-b', queue: podQueueName('py-b') }, { prefix, ttlMs: 1 });
    await r.pexpire(`${prefix}:hb:pod:py-b`, 0);
    expect((await livePods(r, 'py', prefix)).map((p) => p.pod)).toEqual(['py-a']);
    expect(await podHeartbeat(r, 'py-a', prefix)).toEqual(hb);
    await removeHeartbeat(r, 'py', 'py-a', prefix);
    expect(await livePods(r, 'py', prefix)).toEqual([]);
    r.disconnect();
  });
});

describe('names, errors and connection options', () => {
  it('builds pod queue names without ":" and refuses bad pod names', () => {
    expect(podQueueName('python-7f9c-abcde')).toBe('pod-python-7f9c-abcde');
    expect(podFromQueueName('pod-x')).toBe('x');
    expect(podFromQueueName(QueueNames.snapshot)).toBeUndefined();
    expect(() => podQueueName('Bad:Name')).toThrow(/invalid pod name/);
    for (const q of Object.values(QueueNames)) expect(q).not.toContain(':');
  });

  it('round-trips job error codes through failedReason', () => {
    expect(parseJobError(new JobError('not_found', 'no such file').message)).toEqual({
      code: 'not_found',
      message: 'no such file',
    });
    expect(parseJobError('boom')).toEqual({ code: 'internal', message: 'boom' });
  });

  it('parses REDIS_URL and rejects bad ones clearly', () => {
    expect(redisOptionsFromUrl('redis://:s3cret@10.0.0.1:6380/2')).toMatchObject({
      host: '10.0.0.1',
      port: 6380,
      password: 's3cret',
      db: 2,
    });
    expect(redisOptionsFromUrl('rediss://h')).toMatchObject({ tls: {} });
    expect(() => redisOptionsFromUrl('http://x')).toThrow(/redis:\/\//);
    expect(() => redisOptionsFromUrl('not a url')).toThrow(/not a valid URL/);
    expect(bullConnection('redis://h:1')).toMatchObject({ maxRetriesPerRequest: null });
  });
});
