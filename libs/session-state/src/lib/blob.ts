import { crc32 } from 'node:zlib';
import { StateIntegrityError } from './errors';
import { hashContent } from './hash';
import {
  Codecs,
  compressWith,
  decompressWith,
  looksIncompressible,
  MIN_GAIN_RATIO,
  type CompressionOptions,
} from './compression';

/**
 * A content-addressed blob of the persistence store:
 * `"XB"` | codec (u8) | raw length (u48 BE) | crc32 of the data (u32 BE) | data.
 * Its key is `hashContent(raw)`. {@link verifyBlob} checks the header and crc32 of the stored
 * bytes without decompressing (cheap: ~5 GB/s); {@link decompressBlob} also re-hashes what it
 * decodes and refuses a mismatch, so a corrupted blob is never handed out.
 */
const MAGIC0 = 0x58; // 'X'
const MAGIC1 = 0x42; // 'B'
export const BLOB_HEADER_BYTES = 13;

export interface CompressedBlob {
  /** sha256 hex of the uncompressed content (the blob key). */
  hash: string;
  /** Header + (possibly) compressed data. */
  data: Buffer;
  /** Uncompressed size. */
  size: number;
}

/**
 * Compresses `content` for storage (brotli quality 1 by default). Content that does not shrink
 * (already compressed, random) is stored as is. Pass `hash` when it is already known and
 * trusted (computed by this process); otherwise it is computed.
 */
export function compressBlob(
  content: Uint8Array,
  opts: CompressionOptions & { hash?: string } = {},
): CompressedBlob {
  const hash = opts.hash ?? hashContent(content);
  let codec: number = Codecs[opts.codec ?? 'brotli'];
  let body: Uint8Array = content;
  if (codec !== Codecs.none && content.byteLength > 0 && !looksIncompressible(content)) {
    const packed = compressWith(content, codec as 1 | 2, opts.level);
    if (packed.byteLength <= content.byteLength * MIN_GAIN_RATIO) body = packed;
    else codec = Codecs.none;
  } else {
    codec = Codecs.none;
  }
  const data = Buffer.allocUnsafe(BLOB_HEADER_BYTES + body.byteLength);
  data[0] = MAGIC0;
  data[1] = MAGIC1;
  data[2] = codec;
  data.writeUIntBE(content.byteLength, 3, 6);
  data.set(body, BLOB_HEADER_BYTES);
  data.writeUInt32BE(crc32(data.subarray(BLOB_HEADER_BYTES)), 9);
  return { hash, data, size: content.byteLength };
}

/** Uncompressed size recorded in a blob header (no decompression). */
export function blobRawSize(data: Uint8Array): number {
  checkHeader(data, '(unknown)');
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).readUIntBE(3, 6);
}

function checkHeader(data: Uint8Array, hash: string): void {
  if (data.byteLength < BLOB_HEADER_BYTES || data[0] !== MAGIC0 || data[1] !== MAGIC1) {
    throw new StateIntegrityError(`blob ${hash} is not a stored blob (bad header or truncated)`);
  }
}

/**
 * Checks a stored blob without decompressing it: header, and crc32 of the stored bytes
 * (catches truncation and corrupted bytes). Returns the uncompressed size.
 * @throws StateIntegrityError
 */
export function verifyBlob(data: Uint8Array, hash: string): number {
  checkHeader(data, hash);
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (crc32(buf.subarray(BLOB_HEADER_BYTES)) !== buf.readUInt32BE(9)) {
    throw new StateIntegrityError(`blob ${hash} is corrupted or truncated (crc32 mismatch)`);
  }
  return buf.readUIntBE(3, 6);
}

/**
 * Decodes a stored blob and verifies its content hash equals `expectedHash`.
 * @throws StateIntegrityError when the blob is truncated, corrupted or does not match.
 */
export function decompressBlob(data: Uint8Array, expectedHash: string): Buffer {
  const size = verifyBlob(data, expectedHash);
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let out: Buffer;
  try {
    out = decompressWith(buf.subarray(BLOB_HEADER_BYTES), buf[2] as number, size);
  } catch (err) {
    throw new StateIntegrityError(`blob ${expectedHash} does not decompress: ${(err as Error).message}`);
  }
  if (out.byteLength !== size) {
    throw new StateIntegrityError(
      `blob ${expectedHash} decodes to ${out.byteLength} bytes, header says ${size}`,
    );
  }
  const actual = hashContent(out);
  if (actual !== expectedHash) {
    throw new StateIntegrityError(`blob ${expectedHash} is corrupted (content hashes to ${actual})`);
  }
  return out;
}
