// SIGKILL of the built service (node dist/apps/persistence/main.js) in the middle of writing a
// large snapshot leaves the previous version intact and readable.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { JobRpcClient, PersistenceJobDefs, QueueNames, createRedis } from '@executor/queues';
import { startRedis, uniquePrefix, type TestRedis } from '@executor/testing';
import { StateKeys } from '../src/app/store/keys';
import { contents, file, keys, makeState, restore, snapshot, snapshotPayload } from './harness';
import type { PersistenceConfig } from '../src/app/config/config';

const MAIN = join(__dirname, '../../../dist/apps/persistence/main.js');

function startService(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  if (!existsSync(MAIN))
    throw new Error(`${MAIN} is missing: run "npx nx build persistence" first (nx test persistence does)`);
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('persistence listening on http://')) resolve({ child, output: () => out });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`service exited early (${code}): ${out}`)));
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('crash safety of the built service', () => {
  let redis: TestRedis;
  let cmd: Redis;
  let sub: Redis;
  let client: JobRpcClient;
  let config: Pick<PersistenceConfig, 'QUEUE_PREFIX'>;
  let env: Record<string, string>;

  beforeAll(async () => {
    redis = await startRedis();
    config = { QUEUE_PREFIX: uniquePrefix('crash') };
    env = { REDIS_URL: redis.url, QUEUE_PREFIX: config.QUEUE_PREFIX, PORT: '0', HOST: '127.0.0.1' };
    cmd = createRedis(redis.url);
    sub = createRedis(redis.url);
    client = new JobRpcClient({ redisUrl: redis.url, prefix: config.QUEUE_PREFIX });
  });
  afterAll(async () => {
    await client.close();
    cmd.disconnect();
    sub.disconnect();
    await redis.stop();
  });

  it('SIGKILL mid-write leaves the previous version intact; a restarted service restores it', async () => {
    const h = { client, cmd, config };
    const stateKeys = new StateKeys(config.QUEUE_PREFIX);
    const first = await startService(env);
    const v1 = makeState('crashy', [
      file('keep.txt', 'the previous version\n'),
      file('data.bin', randomBytes(4096)),
    ]);
    expect((await snapshot(h, v1)).version).toBe(1);

    // A big snapshot: 96 unique files of 1 MB (compression takes ~1 s, blobs go out in 4 MB batches).
    const big = makeState(
      'crashy',
      Array.from({ length: 96 }, (_, i) => file(`big/${i}.txt`, randomBytes(512 * 1024).toString('hex'))),
    );
    const payload = await snapshotPayload(h, big, { codec: 'none' });
    // The event we kill on: the first blob written by the big snapshot (keyspace notification).
    await cmd.config('SET', 'notify-keyspace-events', 'E$');
    const firstBlob = new Promise<string>((resolve) => {
      sub.on('message', (_ch: string, key: string) => {
        if (key.startsWith(`${stateKeys.root}:blob:`)) resolve(key);
      });
    });
    await sub.subscribe('__keyevent@0__:set');
    await client.send(QueueNames.snapshot, PersistenceJobDefs.snapshot, payload);
    await firstBlob;
    first.child.kill('SIGKILL');
    expect((await exited(first.child)).signal).toBe('SIGKILL');

    // Nothing of the interrupted snapshot is visible; its uploaded blobs are pending (TTL) garbage.
    expect(await cmd.lrange(stateKeys.versions('crashy'), 0, -1)).toEqual(['1']);
    expect(await cmd.exists(stateKeys.manifest('crashy', 2))).toBe(0);
    expect(await cmd.hget(stateKeys.stats, 'versions')).toBe('1');
    const blobKeys = await keys(cmd, `${stateKeys.root}:blob:*`);
    const pending = [];
    for (const k of blobKeys) if ((await cmd.ttl(k)) > 0) pending.push(k);
    expect(pending.length).toBeGreaterThan(0);
    expect(pending.length).toBeLessThan(96);
    expect(await cmd.hget(stateKeys.stats, 'blobs')).toBe('2');

    // A restarted service restores version 1 byte for byte, then shuts down gracefully on SIGTERM.
    const second = await startService(env);
    const back = await restore(h, 'crashy');
    expect(back.version).toBe(1);
    expect(contents(back.state as never)).toEqual(contents(v1));
    second.child.kill('SIGTERM');
    // Nest re-raises the signal once its shutdown hooks ran (workers closed after in-flight jobs).
    expect((await exited(second.child)).signal).toBe('SIGTERM');
    expect(second.output()).toMatch(/persistence stopped \(SIGTERM\): workers drained/);
  }, 120_000);
});
