import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { JobError } from './errors';
import type { BlobRef } from './schemas';
import { DEFAULT_QUEUE_PREFIX } from './connection';

/** Seconds a transfer key lives if nobody takes it. */
export const TRANSFER_TTL_SECONDS = 300;

/**
 * A new transfer key: `<prefix>:xfer:<scope><uuid>`. `scope` is the executor tag (acl.ts
 * `executorTag`) of the executor that writes or reads it: an executor's Redis user reaches only
 * the transfers under its own tag. Transfers between trusted services need no scope.
 */
export function transferKey(prefix: string, scope = ''): string {
  return `${prefix}:xfer:${scope}${randomUUID()}`;
}

/**
 * Bytes handed from one service to another through Redis (file contents, encoded session
 * state), so job payloads stay small JSON and binary data is never base64-encoded.
 */
export async function putTransfer(
  redis: Redis,
  bytes: Buffer,
  opts: { prefix?: string; ttlSeconds?: number; scope?: string } = {},
): Promise<BlobRef> {
  const key = transferKey(opts.prefix ?? DEFAULT_QUEUE_PREFIX, opts.scope);
  await redis.set(key, bytes, 'EX', opts.ttlSeconds ?? TRANSFER_TTL_SECONDS);
  return { key, size: bytes.length };
}

/** Reads and deletes a transfer; a missing or truncated one is a clear error. */
export async function takeTransfer(redis: Redis, ref: BlobRef): Promise<Buffer> {
  const buf = await redis.getdelBuffer(ref.key);
  return checkTransfer(ref, buf);
}

/** Reads a transfer without deleting it. */
export async function readTransfer(redis: Redis, ref: BlobRef): Promise<Buffer> {
  return checkTransfer(ref, await redis.getBuffer(ref.key));
}

function checkTransfer(ref: BlobRef, buf: Buffer | null): Buffer {
  if (!buf) throw new JobError('internal', `transfer ${ref.key} is missing (expired or already taken)`);
  if (buf.length !== ref.size) {
    throw new JobError('internal', `transfer ${ref.key} has ${buf.length} bytes, expected ${ref.size}`);
  }
  return buf;
}
