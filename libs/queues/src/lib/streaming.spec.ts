import { createHash, randomBytes } from 'node:crypto';
import { Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import { startRedis, uniquePrefix, type TestRedis } from '@executor/testing';
import { bullConnection, createRedis } from './connection';
import { JobRpcClient, publishReplies } from './rpc';
import { PodJobDefs } from './schemas';
import {
  isStreamChannel,
  procChannel,
  publishEvent,
  streamChannel,
  streamingRedisPatterns,
  watchChannel,
} from './streams';
import {
  PipeError,
  cancelPipe,
  createPipeRef,
  failPipe,
  isPipeOf,
  pipeKeys,
  readPipe,
  writePipe,
  type PipeRef,
} from './pipe';
import { defaultContextId, normalizeContextLanguage } from './contexts';

const env = { sessionId: 's-1', tenant: 'acme' };

/** Collects a pipe's bytes into a hash (never the whole content in one buffer). */
async function drain(redis: Redis, ref: PipeRef, onChunk?: (n: number) => Promise<void>): Promise<string> {
  const h = createHash('sha256');
  let n = 0;
  for await (const chunk of readPipe(redis, ref, { timeoutMs: 10_000 })) {
    h.update(chunk);
    await onChunk?.(++n);
  }
  return h.digest('hex');
}

async function* pieces(buf: Buffer, size: number, onPull?: (i: number) => void): AsyncGenerator<Buffer> {
  let i = 0;
  for (let off = 0; off < buf.length; off += size) {
    onPull?.(++i);
    yield buf.subarray(off, off + size);
  }
}

describe('channels', () => {
  it('names stream, process and watch channels under the prefix', () => {
    expect(streamChannel('executor', 'x1')).toBe('executor:stream:x1');
    expect(procChannel('executor', 's1', 'p1')).toBe('executor:proc:s1:p1');
    expect(watchChannel('executor', 's1', 'w1')).toBe('executor:watch:s1:w1');
    expect(isStreamChannel('executor', 'executor:stream:x1')).toBe(true);
    expect(isStreamChannel('executor', 'executor:replies:lb-1')).toBe(false);
    expect(isStreamChannel('executor', 'other:stream:x1')).toBe(false);
    expect(isStreamChannel('executor', 'executor:stream:x:y')).toBe(false);
    expect(streamingRedisPatterns('p')).toEqual({
      channels: ['p:stream:*', 'p:proc:*', 'p:watch:*'],
      keys: ['p:pipe:*'],
      components: ['executor', 'load-balancer'],
    });
  });

  it('normalizes context languages and names their default contexts', () => {
    expect(normalizeContextLanguage('JS')).toBe('javascript');
    expect(normalizeContextLanguage('ts')).toBe('typescript');
    expect(normalizeContextLanguage('python3')).toBe('python');
    expect(normalizeContextLanguage('cobol')).toBeUndefined();
    expect(defaultContextId('python', 'python')).toBe('default');
    expect(defaultContextId('bash', 'python')).toBe('default-bash');
  });
});

describe('JobRpcClient.subscribe and publishEvent against a real redis', () => {
  let redis: TestRedis;
  let prefix: string;
  let client: JobRpcClient;
  let publisher: Redis;
  let worker: Worker;
  const queue = 'stream-test';

  beforeAll(async () => {
    redis = await startRedis();
    prefix = uniquePrefix('s');
    publisher = createRedis(redis.url);
    // A worker that publishes N events on the job's stream channel, then returns: as the executor does.
    worker = new Worker(
      queue,
      async (job: Job) => {
        const { stream, code } = job.data as { stream: string; code: string };
        const n = Number(code);
        for (let i = 0; i < n; i++)
          void publishEvent(publisher, stream, { t: 'stdout', text: `${i}`, ts: Date.now() });
        return {
          id: 'e',
          exitCode: 0,
          stdout: '',
          stderr: '',
          durationMs: 0,
          timedOut: false,
          truncated: false,
          at: '',
        };
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

  it('delivers every event of a call before its reply, in order', async () => {
    for (let round = 0; round < 5; round++) {
      const channel = streamChannel(prefix, `e-${round}`);
      const seen: string[] = [];
      let replied = false;
      let lateEvents = 0;
      const unsubscribe = await client.subscribe(channel, (e) => {
        if (replied) lateEvents++;
        seen.push((e as { text: string }).text);
      });
      await client.call(
        queue,
        PodJobDefs.execute,
        { ...env, executionId: 'e', code: '200', timeoutMs: 1000, stream: channel },
        { timeoutMs: 10_000 },
      );
      replied = true;
      expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => `${i}`));
      await unsubscribe();
      expect(lateEvents).toBe(0);
    }
    expect(client.subscribedChannels).toBe(0);
  });

  it('fans out to every handler of a channel; unsubscribing one keeps the other', async () => {
    const channel = streamChannel(prefix, 'fan');
    const a: unknown[] = [];
    const b: unknown[] = [];
    const offA = await client.subscribe(channel, (e) => a.push(e));
    const offB = await client.subscribe(channel, (e) => b.push(e));
    const probe = createRedis(redis.url);
    expect(await probe.publish(channel, JSON.stringify({ n: 1 }))).toBe(1); // one connection subscribed
    // A call's reply proves the messages published before it were delivered (same connection, in order).
    const done = streamChannel(prefix, 'fan-done');
    const sync = (): Promise<unknown> =>
      client.call(
        queue,
        PodJobDefs.execute,
        { ...env, executionId: 'e', code: '0', timeoutMs: 1000, stream: done },
        { timeoutMs: 10_000 },
      );
    await sync();
    await offA();
    await probe.publish(channel, 'not json'); // dropped
    await probe.publish(channel, JSON.stringify({ n: 2 }));
    await sync();
    expect(a).toEqual([{ n: 1 }]);
    expect(b).toEqual([{ n: 1 }, { n: 2 }]);
    await offB();
    expect(await probe.publish(channel, JSON.stringify({ n: 3 }))).toBe(0); // unsubscribed in Redis too
    probe.disconnect();
  });

  it('refuses the reply channel as an event channel', async () => {
    await expect(client.subscribe(`${prefix}:replies:${client.callerId}`, () => undefined)).rejects.toThrow(
      /reply channel/,
    );
  });
});

describe('byte pipes against a real redis', () => {
  let redis: TestRedis;
  let prefix: string;
  let a: Redis;
  let b: Redis;

  beforeAll(async () => {
    redis = await startRedis();
    prefix = uniquePrefix('p');
    a = createRedis(redis.url);
    b = createRedis(redis.url);
  });
  afterAll(async () => {
    a.disconnect();
    b.disconnect();
    await redis.stop();
  });

  it('names pipes of its prefix only', () => {
    const ref = createPipeRef(prefix, 4096);
    expect(ref.key).toMatch(new RegExp(`^${prefix}:pipe:[0-9a-f-]{36}$`));
    expect(isPipeOf(prefix, ref)).toBe(true);
    expect(isPipeOf(prefix, { ...ref, key: `${prefix}:replies:x` })).toBe(false);
    expect(isPipeOf('other', ref)).toBe(false);
    expect(isPipeOf(prefix, { ...ref, key: `${ref.key}:ack` })).toBe(false);
  });

  it('moves 10 MB in bounded chunks: never more than the window in Redis, keys gone at the end', async () => {
    const window = 4;
    const chunk = 64 * 1024;
    const data = randomBytes(10 * 1024 * 1024);
    const ref = createPipeRef(prefix, chunk);
    const probe = createRedis(redis.url);
    // The source is pulled one piece per chunk: piece k+1 is asked for once chunk k is in Redis.
    let pulled = 0;
    const pullWaiters: Array<{ n: number; resolve: () => void }> = [];
    const onPull = (i: number): void => {
      pulled = i;
      for (const w of pullWaiters.filter((x) => x.n <= i)) {
        pullWaiters.splice(pullWaiters.indexOf(w), 1);
        w.resolve();
      }
    };
    const total = data.length / chunk;
    let peak = 0;
    let peakBytes = 0;
    const writing = writePipe(a, ref, pieces(data, chunk, onPull), {
      windowChunks: window,
      timeoutMs: 10_000,
    });
    const digest = await drain(b, ref, async (n) => {
      // Holding chunk n (n-1 acked): wait until the writer filled its window (or ran out of data)…
      const target = Math.min(total, n - 1 + window + 1);
      if (pulled < target) await new Promise<void>((resolve) => pullWaiters.push({ n: target, resolve }));
      // …then Redis holds at most window-1 more frames (+ the one in our hand = window).
      const len = await probe.llen(pipeKeys(ref).data);
      peak = Math.max(peak, len + 1);
      peakBytes = Math.max(peakBytes, Number((await probe.call('MEMORY', 'USAGE', pipeKeys(ref).data)) ?? 0));
    });
    await expect(writing).resolves.toEqual({ bytes: data.length, chunks: total });
    expect(digest).toBe(createHash('sha256').update(data).digest('hex'));
    expect(peak).toBe(window); // filled, never exceeded
    expect(peakBytes).toBeLessThan(window * (chunk + 1024));
    expect(await probe.exists(pipeKeys(ref).data, pipeKeys(ref).ack)).toBe(0);
    probe.disconnect();
  });

  it('re-chunks small and odd pieces exactly, and an empty source is just the end', async () => {
    const data = randomBytes(10_000);
    const ref = createPipeRef(prefix, 4096);
    const got: number[] = [];
    const reading = (async () => {
      const parts: Buffer[] = [];
      for await (const c of readPipe(b, ref)) {
        got.push(c.length);
        parts.push(c);
      }
      return Buffer.concat(parts);
    })();
    await writePipe(a, ref, pieces(data, 7));
    expect(await reading).toEqual(data);
    expect(got).toEqual([4096, 4096, 10_000 - 8192]);

    const empty = createPipeRef(prefix, 4096);
    const r2 = drain(b, empty);
    await expect(writePipe(a, empty, pieces(Buffer.alloc(0), 1))).resolves.toEqual({ bytes: 0, chunks: 0 });
    await expect(r2).resolves.toBe(createHash('sha256').digest('hex'));
  });

  it('carries a writer failure to the reader', async () => {
    const ref = createPipeRef(prefix, 1024);
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(3000, 1);
      throw new Error('disk on fire');
    }
    const reading = drain(b, ref).catch((e: unknown) => e);
    await expect(writePipe(a, ref, broken())).rejects.toThrow('disk on fire');
    const err = await reading;
    expect(err).toBeInstanceOf(PipeError);
    expect(err).toMatchObject({ reason: 'failed', message: 'disk on fire' });

    const refused = createPipeRef(prefix, 1024);
    await failPipe(a, refused, 'not_found: no file "x"');
    await expect(drain(b, refused)).rejects.toMatchObject({
      reason: 'failed',
      message: 'not_found: no file "x"',
    });
  });

  it('stops the writer when the reader gives up (early break or cancelPipe)', async () => {
    const ref = createPipeRef(prefix, 1024);
    const writing = writePipe(a, ref, pieces(randomBytes(1024 * 100), 1024), {
      windowChunks: 2,
      timeoutMs: 10_000,
    });
    for await (const _c of readPipe(b, ref)) break; // gives up after the first chunk
    await expect(writing).rejects.toMatchObject({ reason: 'cancelled' });

    const refused = createPipeRef(prefix, 1024);
    await cancelPipe(b, refused, 'payload_too_large: over the limit');
    await expect(
      writePipe(a, refused, pieces(randomBytes(1024 * 10), 1024), { windowChunks: 2 }),
    ).rejects.toThrow(/payload_too_large: over the limit/);
  });

  it('times out a reader with no writer and a writer with no reader; keys expire', async () => {
    const lonely = createPipeRef(prefix, 1024);
    const t0 = Date.now();
    const err = await (async () => {
      for await (const _c of readPipe(b, lonely, { timeoutMs: 200 })) return undefined;
      return undefined;
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'timeout' });
    expect(Date.now() - t0).toBeLessThan(2000);

    const unread = createPipeRef(prefix, 1024);
    const e2 = await writePipe(a, unread, pieces(randomBytes(8 * 1024), 1024), {
      windowChunks: 2,
      timeoutMs: 200,
    }).catch((e: unknown) => e);
    expect(e2).toMatchObject({ reason: 'timeout' });
    const ttl = await a.pttl(pipeKeys(unread).data);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });
});
