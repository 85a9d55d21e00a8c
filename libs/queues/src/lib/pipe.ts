import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_QUEUE_PREFIX } from './connection';

/**
 * Bounded byte pipes through Redis (PLAN D5): a producer streams bytes to a consumer in chunks of at
 * most `chunkBytes`, never more than a window of chunks in Redis at once, never a whole file in one
 * key or one buffer. Used for file downloads (executor → load balancer, `fs.read`) and uploads
 * (load balancer → executor, `fs.write`).
 *
 * Layout (under `<prefix>:pipe:*`): list `<key>` holds frames (first byte: 1 = data, 2 = end,
 * 3 = error + UTF-8 message); list `<key>:ack` holds the consumer's acks (`1` per data frame it
 * finished with, or `x<reason>` when it gives up). The producer waits while `windowChunks` frames are
 * unacked. Both keys expire {@link PIPE_IDLE_TTL_MS} after the last activity; the consumer deletes them
 * at the end. Blocking reads (BLPOP) run on a connection duplicated for the transfer.
 */

export const DEFAULT_PIPE_CHUNK_BYTES = 256 * 1024;
export const DEFAULT_PIPE_WINDOW_CHUNKS = 8;
/** Pipe keys live this long after the last push/ack. */
export const PIPE_IDLE_TTL_MS = 60_000;
/** Default wait for the other side (a chunk, an ack). */
export const DEFAULT_PIPE_TIMEOUT_MS = 30_000;

export const PipeRef = Type.Object({
  key: Type.String({ minLength: 1, maxLength: 512, description: '<prefix>:pipe:<uuid>' }),
  chunkBytes: Type.Integer({ minimum: 1024, maximum: 8 * 1024 * 1024 }),
});
export type PipeRef = Static<typeof PipeRef>;

const FRAME_DATA = 1;
const FRAME_END = 2;
const FRAME_ERROR = 3;

/** Why a pipe transfer stopped early: the other side was too slow, gave up, or failed. */
export class PipeError extends Error {
  constructor(
    readonly reason: 'timeout' | 'cancelled' | 'failed',
    message: string,
  ) {
    super(message);
    this.name = 'PipeError';
  }
}

/** A new pipe of this platform (`<prefix>:pipe:<uuid>`). */
export function createPipeRef(
  prefix: string = DEFAULT_QUEUE_PREFIX,
  chunkBytes: number = DEFAULT_PIPE_CHUNK_BYTES,
): PipeRef {
  return { key: `${prefix}:pipe:${randomUUID()}`, chunkBytes };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True when `ref` names a pipe of `prefix` (a payload cannot point the executor at other keys). */
export function isPipeOf(prefix: string, ref: PipeRef): boolean {
  const head = `${prefix}:pipe:`;
  return ref.key.startsWith(head) && UUID.test(ref.key.slice(head.length));
}

/** The two Redis keys of a pipe. */
export function pipeKeys(ref: PipeRef): { data: string; ack: string } {
  return { data: ref.key, ack: `${ref.key}:ack` };
}

export interface WritePipeOptions {
  /** Frames in Redis not yet acked by the consumer, at most (default 8). */
  windowChunks?: number;
  /** Longest wait for the consumer to take a chunk (default 30 s). */
  timeoutMs?: number;
}

/**
 * Streams `source` into the pipe, re-chunked to `ref.chunkBytes`, then the end marker. Resolves with
 * the byte count once every frame is in Redis (not when the consumer has read them). If `source`
 * throws, an error marker carries its message to the consumer and the error is rethrown. Throws
 * PipeError when the consumer gives up or takes no chunk within `timeoutMs`.
 */
export async function writePipe(
  redis: Redis,
  ref: PipeRef,
  source: AsyncIterable<Buffer | Uint8Array>,
  opts: WritePipeOptions = {},
): Promise<{ bytes: number; chunks: number }> {
  const window = Math.max(1, opts.windowChunks ?? DEFAULT_PIPE_WINDOW_CHUNKS);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PIPE_TIMEOUT_MS;
  const { data, ack } = pipeKeys(ref);
  const blocking = redis.duplicate();
  let unacked = 0;
  let bytes = 0;
  let chunks = 0;
  const ack1 = (v: Buffer): void => {
    if (v[0] === 0x78 /* x */) {
      throw new PipeError('cancelled', `pipe ${ref.key}: the reader gave up: ${v.subarray(1).toString()}`);
    }
    unacked--;
  };
  const push = async (frame: Buffer): Promise<void> => {
    while (unacked >= window) {
      const r = await blpop(blocking, ack, timeoutMs);
      if (!r) throw new PipeError('timeout', `pipe ${ref.key}: the reader took no chunk in ${timeoutMs} ms`);
      ack1(r[1]);
    }
    // One round trip: take the acks that are there (a reader that gave up is seen early) and push.
    const res = await redis
      .multi()
      .lpopBuffer(ack, window + 1)
      .rpush(data, frame)
      .pexpire(data, PIPE_IDLE_TTL_MS)
      .pexpire(ack, PIPE_IDLE_TTL_MS)
      .exec();
    unacked++;
    const [popErr, popped] = (res?.[0] ?? [null, null]) as [Error | null, Buffer[] | null];
    if (popErr) throw popErr;
    for (const v of popped ?? []) ack1(v);
  };
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async (all: boolean): Promise<void> => {
    while (pendingBytes >= ref.chunkBytes || (all && pendingBytes > 0)) {
      const size = Math.min(ref.chunkBytes, pendingBytes);
      const frame = Buffer.allocUnsafe(size + 1);
      frame[0] = FRAME_DATA;
      let off = 1;
      while (off < size + 1) {
        const head = pending[0] as Buffer;
        const take = Math.min(head.length, size + 1 - off);
        head.copy(frame, off, 0, take);
        off += take;
        if (take === head.length) pending.shift();
        else pending[0] = head.subarray(take);
      }
      pendingBytes -= size;
      await push(frame);
      chunks++;
    }
  };
  try {
    try {
      for await (const piece of source) {
        const buf = Buffer.isBuffer(piece)
          ? piece
          : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
        if (buf.length === 0) continue;
        pending.push(buf);
        pendingBytes += buf.length;
        bytes += buf.length;
        await flush(false);
      }
      await flush(true);
    } catch (err) {
      if (!(err instanceof PipeError)) await failPipe(redis, ref, (err as Error).message ?? String(err));
      throw err;
    }
    await push(Buffer.from([FRAME_END]));
    return { bytes, chunks };
  } finally {
    blocking.disconnect();
  }
}

export interface ReadPipeOptions {
  /** Longest wait for the next chunk (default 30 s). */
  timeoutMs?: number;
}

/**
 * The bytes of a pipe, chunk by chunk. A chunk is acked when the loop asks for the next one (so a
 * slow consumer slows the producer down). Ends at the end marker (keys deleted); throws PipeError on
 * an error marker or a timeout. Leaving the loop early tells the producer the reader gave up.
 */
export async function* readPipe(
  redis: Redis,
  ref: PipeRef,
  opts: ReadPipeOptions = {},
): AsyncGenerator<Buffer> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PIPE_TIMEOUT_MS;
  const { data, ack } = pipeKeys(ref);
  const blocking = redis.duplicate();
  let finished = false;
  let why = 'the reader stopped';
  try {
    for (;;) {
      const r = await blpop(blocking, data, timeoutMs);
      if (!r) {
        why = 'timeout';
        throw new PipeError('timeout', `pipe ${ref.key}: no chunk from the writer in ${timeoutMs} ms`);
      }
      const frame = r[1];
      if (frame[0] === FRAME_DATA) {
        yield frame.subarray(1);
        await redis
          .multi()
          .rpush(ack, '1')
          .pexpire(ack, PIPE_IDLE_TTL_MS)
          .pexpire(data, PIPE_IDLE_TTL_MS)
          .exec();
      } else if (frame[0] === FRAME_END) {
        finished = true;
        return;
      } else {
        finished = true;
        throw new PipeError('failed', frame.subarray(1).toString('utf8') || 'the writer failed');
      }
    }
  } catch (err) {
    if (!(err instanceof PipeError)) why = (err as Error).message ?? String(err);
    throw err;
  } finally {
    blocking.disconnect();
    if (finished) await redis.del(data, ack).catch(() => undefined);
    else await cancelPipe(redis, ref, why).catch(() => undefined);
  }
}

/** Tells the producer the consumer will not read (or no longer reads) the pipe. */
export async function cancelPipe(redis: Redis, ref: PipeRef, reason: string): Promise<void> {
  const { data, ack } = pipeKeys(ref);
  await redis
    .multi()
    .rpush(ack, `x${reason.slice(0, 1000)}`)
    .pexpire(ack, PIPE_IDLE_TTL_MS)
    .pexpire(data, PIPE_IDLE_TTL_MS)
    .exec();
}

/** Ends the pipe with an error marker (a producer that cannot produce: the consumer throws PipeError). */
export async function failPipe(redis: Redis, ref: PipeRef, message: string): Promise<void> {
  const { data, ack } = pipeKeys(ref);
  const frame = Buffer.concat([Buffer.from([FRAME_ERROR]), Buffer.from(message.slice(0, 4000))]);
  await redis
    .multi()
    .rpush(data, frame)
    .pexpire(data, PIPE_IDLE_TTL_MS)
    .pexpire(ack, PIPE_IDLE_TTL_MS)
    .exec();
}

async function blpop(conn: Redis, key: string, timeoutMs: number): Promise<[Buffer, Buffer] | null> {
  const r = await conn.blpopBuffer(key, Math.max(0.01, timeoutMs / 1000));
  return r as [Buffer, Buffer] | null;
}
