import { brotliCompressSync, brotliDecompressSync, constants, gunzipSync, gzipSync } from 'node:zlib';

/**
 * Codecs of the lib. Chosen by measurement on this platform's hardware (README, `nx run
 * session-state:bench`): brotli encodes faster than gzip -6 at every level we tried; quality 1
 * encodes 3-4x faster than quality 4 (6-7x faster than gzip -6) for 10-15% more bytes on
 * generated code (up to ~50% more on real JS). Encoded states cross a local Redis once and
 * are decompressed right away, and the encoder runs on the executor next to user code, so
 * speed wins: brotli quality 1 is the default; pass `level: 4` (or more) where size matters.
 * `none` is used where speed is all that matters (the restore hand-off).
 */
export const Codecs = { none: 0, gzip: 1, brotli: 2 } as const;
export type CodecName = keyof typeof Codecs;
export type CodecId = (typeof Codecs)[CodecName];

export interface CompressionOptions {
  /** Codec (default `brotli`). */
  codec?: CodecName;
  /** brotli quality 0-11 (default 1) or gzip level 1-9 (default 6). */
  level?: number;
}

export const DEFAULT_BROTLI_QUALITY = 1;
export const DEFAULT_GZIP_LEVEL = 6;

/** Inputs at least this big are probed before being compressed (see {@link looksIncompressible}). */
export const PROBE_THRESHOLD = 128 * 1024;
const PROBE_BYTES = 64 * 1024;
/** Compressed output must be at most this fraction of the input to be worth keeping. */
export const MIN_GAIN_RATIO = 0.95;

export function codecId(name: CodecName): CodecId {
  return Codecs[name];
}

export function compressWith(buf: Uint8Array, codec: CodecId, level?: number): Buffer {
  switch (codec) {
    case Codecs.none:
      return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    case Codecs.gzip:
      return gzipSync(buf, { level: level ?? DEFAULT_GZIP_LEVEL });
    case Codecs.brotli:
      return brotliCompressSync(buf, {
        // One output chunk for small inputs: Node's per-call cost is mostly chunk bookkeeping.
        chunkSize: Math.min(Math.max(64, buf.byteLength), 1 << 20),
        params: {
          [constants.BROTLI_PARAM_QUALITY]: level ?? DEFAULT_BROTLI_QUALITY,
          [constants.BROTLI_PARAM_SIZE_HINT]: buf.byteLength,
        },
      });
    default:
      throw new Error(`unknown codec ${String(codec)}`);
  }
}

/** Decompresses; `maxOutput` bounds the output (a hostile blob cannot inflate without limit). */
export function decompressWith(buf: Uint8Array, codec: number, maxOutput: number): Buffer {
  switch (codec) {
    case Codecs.none:
      return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    case Codecs.gzip:
      return gunzipSync(buf, { maxOutputLength: Math.max(1, maxOutput) });
    case Codecs.brotli:
      return brotliDecompressSync(buf, {
        maxOutputLength: Math.max(1, maxOutput),
        chunkSize: Math.min(Math.max(64, maxOutput), 1 << 20),
      });
    default:
      throw new Error(`unknown codec ${codec}`);
  }
}

/**
 * Cheap test for already-compressed or random content: compress a 64 KiB sample with
 * brotli quality 1 (~0.3 ms) and see whether it shrinks. Only used for big inputs, where
 * compressing incompressible bytes at quality 4 would cost ~7 ms per MB for nothing.
 */
export function looksIncompressible(buf: Uint8Array): boolean {
  if (buf.byteLength < PROBE_THRESHOLD) return false;
  const mid = Math.floor(buf.byteLength / 2 - PROBE_BYTES / 2);
  const sample = buf.subarray(mid, mid + PROBE_BYTES);
  const out = brotliCompressSync(sample, { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } });
  return out.byteLength > sample.byteLength * MIN_GAIN_RATIO;
}
