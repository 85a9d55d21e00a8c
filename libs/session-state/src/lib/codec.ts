import { createHash, timingSafeEqual } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  Codecs,
  compressWith,
  decompressWith,
  looksIncompressible,
  MIN_GAIN_RATIO,
  PROBE_THRESHOLD,
  type CompressionOptions,
} from './compression';
import { compressBlob, decompressBlob } from './blob';
import { StateIntegrityError, StateVersionError, WorkspaceEntryError } from './errors';
import { hashContent } from './hash';
import { SESSION_STATE_SCHEMA_VERSION, type SessionState, type WorkspaceEntry } from './model';
import { decodeV0 } from './codec-v0';

/**
 * Binary layout of an encoded state (schema version 1):
 *
 * | offset | bytes | field |
 * | --- | --- | --- |
 * | 0 | 4 | magic `ESST` |
 * | 4 | 2 | schema version (u16 BE) |
 * | 6 | 1 | codec of the packed section (0 none, 1 gzip, 2 brotli) |
 * | 7 | 1 | reserved (0) |
 * | 8 | 4 | meta JSON length (u32 BE, inside the unpacked packed section) |
 * | 12 | 8 | packed section length once decompressed (u64 BE) |
 * | 20 | 8 | packed section length as stored (u64 BE) |
 * | 28 | 8 | stored (raw) section length (u64 BE) |
 * | 36 | 32 | sha256 over bytes 0..36 and the whole body |
 * | 68 | … | body: packed section, then stored section |
 *
 * The packed section is `meta JSON ‖ contents of compressible files`, compressed as one
 * stream (many small files compress far better together). Contents that do not compress
 * (big files whose sample does not shrink: archives, images, random data) go raw in the
 * stored section. The meta JSON is the state without contents; each file with content has
 * `c: [section, offset, length]`: 0 = packed section after the meta, 1 = raw bytes in the
 * stored section, 2 = a stored blob (`compressBlob` format, i.e. individually compressed with
 * its crc32) in the stored section. Kind 2 lets the persistence service hand out a state
 * straight from its content-addressed store without decompressing and recompressing every
 * file; `decodeState` decompresses it and checks the content against the entry's sha256.
 */
export const STATE_MAGIC = Buffer.from('ESST', 'ascii');
const HEADER_BYTES = 68;
const HASH_OFFSET = 36;
/** Refuse to inflate a packed section beyond this (hostile length fields). */
const MAX_UNPACKED_BYTES = 8 * 1024 ** 3;

export interface EncodeOptions {
  /** Compression of the packed section (default brotli quality 1). */
  compression?: CompressionOptions;
  /**
   * Already-compressed contents by sha256 (`compressBlob(...).data`): a file entry WITHOUT
   * `content` whose hash is in this map is written from it (section kind 2).
   */
  blobs?: ReadonlyMap<string, Buffer>;
  /**
   * Write every file content as its own blob (`compressBlob`, section kind 2) instead of one
   * packed stream. Slower to encode (~2x) and a little bigger, but the persistence service then
   * stores the blobs as they are (it only decompresses them to check their sha256) instead of
   * compressing every file itself: use it for snapshots sent to persistence.
   */
  fileBlobs?: boolean | CompressionOptions;
}

/** A decoded state plus the stored-format blobs it carried (section kind 2), by sha256. */
export interface DecodedWithBlobs {
  state: SessionState;
  /** Blob bytes exactly as encoded (`compressBlob` format), each checked (crc32 + sha256). */
  blobs: Map<string, Buffer>;
}

export interface DecodeOptions {
  /** Re-hash every file content and compare it with its `hash` (default true). */
  verifyContent?: boolean;
}

/** Fields of a file entry in the meta JSON. */
const MetaEntry = Type.Object({
  path: Type.String({ minLength: 1 }),
  type: Type.Union([Type.Literal('file'), Type.Literal('dir'), Type.Literal('symlink')]),
  mode: Type.Integer({ minimum: 0 }),
  size: Type.Integer({ minimum: 0 }),
  mtimeMs: Type.Number(),
  hash: Type.Optional(Type.String()),
  target: Type.Optional(Type.String()),
  racy: Type.Optional(Type.Boolean()),
  c: Type.Optional(
    Type.Tuple([
      Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)]),
      Type.Integer({ minimum: 0 }),
      Type.Integer({ minimum: 0 }),
    ]),
  ),
});
const StrMap = Type.Record(Type.String(), Type.String());
const Meta = Type.Object({
  schemaVersion: Type.Integer(),
  sessionId: Type.String(),
  tenant: Type.String(),
  poolName: Type.String(),
  podName: Type.String(),
  template: Type.String(),
  createdAt: Type.String(),
  expiresAt: Type.String(),
  ttlSeconds: Type.Number(),
  persist: Type.Boolean(),
  files: Type.Array(MetaEntry),
  env: StrMap,
  history: Type.Array(
    Type.Object({
      id: Type.String(),
      code: Type.String(),
      exitCode: Type.Integer(),
      durationMs: Type.Number(),
      at: Type.String(),
    }),
  ),
  packages: Type.Array(
    Type.Object({
      manager: Type.Union([Type.Literal('pip'), Type.Literal('npm')]),
      name: Type.String(),
      version: Type.String(),
    }),
  ),
  metadata: StrMap,
  baseVersion: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
});
type Meta = Static<typeof Meta>;
const MetaCheck = TypeCompiler.Compile(Meta);
type MetaEntry = Static<typeof MetaEntry>;

/**
 * Encodes a state (full or delta) into the versioned, compressed, integrity-checked binary
 * format above. File contents travel as raw bytes, never base64.
 */
export function encodeState(state: SessionState, opts: EncodeOptions = {}): Buffer {
  const codec = Codecs[opts.compression?.codec ?? 'brotli'];
  const packedParts: Buffer[] = [];
  const storedParts: Buffer[] = [];
  let packedOffset = 0;
  let storedOffset = 0;
  const blobAt = new Map<string, [number, number]>();
  const files: MetaEntry[] = state.files.map((f) => {
    const { content, ...rest } = f;
    const entry: MetaEntry = { ...rest };
    if (content === undefined) {
      const blob = f.type === 'file' && f.hash !== undefined ? opts.blobs?.get(f.hash) : undefined;
      const at = f.hash !== undefined ? blobAt.get(f.hash) : undefined;
      if (at) entry.c = [2, at[0], at[1]];
      else if (blob) {
        entry.c = [2, storedOffset, blob.byteLength];
        blobAt.set(f.hash as string, [storedOffset, blob.byteLength]);
        storedParts.push(blob);
        storedOffset += blob.byteLength;
      }
      return entry;
    }
    if (f.type !== 'file') throw new WorkspaceEntryError(f.path, `a ${f.type} cannot carry content`);
    if (content.byteLength !== f.size) {
      throw new WorkspaceEntryError(
        f.path,
        `content has ${content.byteLength} bytes but size says ${f.size}`,
      );
    }
    const buf = Buffer.from(content.buffer, content.byteOffset, content.byteLength);
    if (opts.fileBlobs) {
      const h = f.hash ?? hashContent(buf);
      entry.hash = h;
      const at = blobAt.get(h);
      if (at) {
        entry.c = [2, at[0], at[1]];
        return entry;
      }
      const blob = compressBlob(buf, {
        ...(typeof opts.fileBlobs === 'object' ? opts.fileBlobs : {}),
        hash: h,
      }).data;
      entry.c = [2, storedOffset, blob.byteLength];
      blobAt.set(h, [storedOffset, blob.byteLength]);
      storedParts.push(blob);
      storedOffset += blob.byteLength;
    } else if (codec !== Codecs.none && buf.byteLength >= PROBE_THRESHOLD && looksIncompressible(buf)) {
      entry.c = [1, storedOffset, buf.byteLength];
      storedParts.push(buf);
      storedOffset += buf.byteLength;
    } else {
      entry.c = [0, packedOffset, buf.byteLength];
      packedParts.push(buf);
      packedOffset += buf.byteLength;
    }
    return entry;
  });
  const meta: Meta = { ...state, schemaVersion: SESSION_STATE_SCHEMA_VERSION, files } as Meta;
  const metaBuf = Buffer.from(JSON.stringify(meta), 'utf8');
  const unpacked = Buffer.concat([metaBuf, ...packedParts]);
  let packed = codec === Codecs.none ? unpacked : compressWith(unpacked, codec, opts.compression?.level);
  let usedCodec: number = codec;
  if (codec !== Codecs.none && packed.byteLength > unpacked.byteLength * MIN_GAIN_RATIO) {
    packed = unpacked; // did not shrink: keep it raw
    usedCodec = Codecs.none;
  }
  const header = Buffer.alloc(HEADER_BYTES);
  STATE_MAGIC.copy(header, 0);
  header.writeUInt16BE(SESSION_STATE_SCHEMA_VERSION, 4);
  header.writeUInt8(usedCodec, 6);
  header.writeUInt32BE(metaBuf.byteLength, 8);
  header.writeBigUInt64BE(BigInt(unpacked.byteLength), 12);
  header.writeBigUInt64BE(BigInt(packed.byteLength), 20);
  header.writeBigUInt64BE(BigInt(storedOffset), 28);
  const h = createHash('sha256').update(header.subarray(0, HASH_OFFSET)).update(packed);
  for (const s of storedParts) h.update(s);
  h.digest().copy(header, HASH_OFFSET);
  return Buffer.concat([header, packed, ...storedParts]);
}

/**
 * Decodes what {@link encodeState} (or an older version of it) wrote. The whole blob is
 * checked (length, sha256, shape, content hashes) before anything is returned: a corrupted
 * or truncated blob raises {@link StateIntegrityError} and is never half-decoded.
 * File contents are views into one buffer (no copy per file).
 */
export function decodeState(buf: Buffer, opts: DecodeOptions = {}): SessionState {
  return decodeStateWithBlobs(buf, opts).state;
}

/**
 * {@link decodeState}, also returning the blobs the encoding carried in stored format
 * (section kind 2, e.g. written with `fileBlobs`), so a store can keep them without
 * recompressing. Every blob was checked (crc32, and sha256 of its decompressed content).
 */
export function decodeStateWithBlobs(buf: Buffer, opts: DecodeOptions = {}): DecodedWithBlobs {
  if (!Buffer.isBuffer(buf) || buf.byteLength < 6 || !buf.subarray(0, 4).equals(STATE_MAGIC)) {
    throw new StateIntegrityError('not an encoded session state (bad magic or too short)');
  }
  const version = buf.readUInt16BE(4);
  let out: DecodedWithBlobs;
  if (version === 0) out = { state: decodeV0(buf), blobs: new Map() };
  else if (version === 1) out = decodeV1(buf);
  else {
    throw new StateVersionError(
      version,
      `session state schema version ${version} is newer than this build supports (≤ ${SESSION_STATE_SCHEMA_VERSION})`,
    );
  }
  if (opts.verifyContent !== false) verifyContents(out.state);
  return out;
}

function decodeV1(buf: Buffer): DecodedWithBlobs {
  if (buf.byteLength < HEADER_BYTES)
    throw new StateIntegrityError(
      `encoded state is truncated (${buf.byteLength} bytes, header alone is ${HEADER_BYTES})`,
    );
  const codec = buf.readUInt8(6);
  const metaLen = buf.readUInt32BE(8);
  const unpackedLen = Number(buf.readBigUInt64BE(12));
  const packedLen = Number(buf.readBigUInt64BE(20));
  const storedLen = Number(buf.readBigUInt64BE(28));
  const expected = HEADER_BYTES + packedLen + storedLen;
  if (buf.byteLength !== expected) {
    throw new StateIntegrityError(
      `encoded state is truncated or has trailing bytes (${buf.byteLength} bytes, header says ${expected})`,
    );
  }
  const digest = createHash('sha256')
    .update(buf.subarray(0, HASH_OFFSET))
    .update(buf.subarray(HEADER_BYTES))
    .digest();
  if (!timingSafeEqual(digest, buf.subarray(HASH_OFFSET, HEADER_BYTES))) {
    throw new StateIntegrityError('encoded state is corrupted (sha256 mismatch)');
  }
  if (unpackedLen > MAX_UNPACKED_BYTES || metaLen > unpackedLen)
    throw new StateIntegrityError('encoded state has impossible section lengths');
  let unpacked: Buffer;
  try {
    unpacked = decompressWith(buf.subarray(HEADER_BYTES, HEADER_BYTES + packedLen), codec, unpackedLen);
  } catch (err) {
    throw new StateIntegrityError(`encoded state does not decompress: ${(err as Error).message}`);
  }
  if (unpacked.byteLength !== unpackedLen)
    throw new StateIntegrityError('packed section has the wrong length');
  let meta: unknown;
  try {
    meta = JSON.parse(unpacked.subarray(0, metaLen).toString('utf8'));
  } catch {
    throw new StateIntegrityError('encoded state has unreadable metadata');
  }
  if (!MetaCheck.Check(meta)) {
    const first = [...MetaCheck.Errors(meta)][0];
    throw new StateIntegrityError(
      `encoded state metadata is malformed (${first?.path ?? ''}: ${first?.message ?? ''})`,
    );
  }
  const stored = buf.subarray(HEADER_BYTES + packedLen);
  const sections = [unpacked.subarray(metaLen), stored, stored];
  const verified = new WeakSet<Buffer>();
  const blobs = new Map<string, Buffer>();
  const files = meta.files.map((m): WorkspaceEntry => {
    const { c, ...entry } = m;
    if (!c) return entry;
    const [section, offset, length] = c;
    const sec = sections[section] as Buffer;
    if (offset + length > sec.byteLength || (section !== 2 && length !== m.size)) {
      throw new StateIntegrityError(`content of "${m.path}" lies outside its section`);
    }
    if (section !== 2) return { ...entry, content: sec.subarray(offset, offset + length) };
    if (m.hash === undefined) throw new StateIntegrityError(`blob content of "${m.path}" has no hash`);
    const blob = sec.subarray(offset, offset + length);
    const content = decompressBlob(blob, m.hash); // checks crc32 and sha256
    if (content.byteLength !== m.size)
      throw new StateIntegrityError(`content of "${m.path}" has the wrong size`);
    verified.add(content);
    blobs.set(m.hash, blob);
    return { ...entry, content };
  });
  const state = { ...(meta as unknown as SessionState), files };
  verifiedContents.set(state, verified);
  return { state, blobs };
}

/** Contents already checked against their hash while decoding (blob sections). */
const verifiedContents = new WeakMap<SessionState, WeakSet<Buffer>>();

function verifyContents(state: SessionState): void {
  const done = verifiedContents.get(state);
  for (const f of state.files) {
    if (f.content === undefined || f.hash === undefined || done?.has(f.content)) continue;
    const actual = hashContent(f.content);
    if (actual !== f.hash) throw new StateIntegrityError(`content of "${f.path}" does not match its hash`);
  }
}
