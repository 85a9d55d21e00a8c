import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { JobError } from '@executor/queues';
import {
  StateIntegrityError,
  compressBlob,
  decompressBlob,
  hashContent,
  verifyBlob,
  isContentHash,
  type SessionState,
  type WorkspaceEntry,
} from '@executor/session-state';
import { PERSISTENCE_CONFIG, type PersistenceConfig } from '../config/config';
import { REDIS } from '../redis/redis.tokens';
import { StateKeys } from './keys';
import { COMMIT_LUA, DELETE_LUA, TOUCH_LUA } from './scripts';

/** Bytes of compressed blobs uploaded per pipeline (bounds memory of a big snapshot). */
const UPLOAD_BATCH_BYTES = 4 * 1024 * 1024;
const COMMIT_ATTEMPTS = 3;
/** Manifests are rewritten whole on every snapshot: the fastest brotli level keeps deltas cheap. */
const MANIFEST_BROTLI_QUALITY = 1;
const RESTORE_RESTARTS = 3;

/** Summary of one stored version (the `vinfo` record). */
export interface VersionInfo {
  version: number;
  at: string;
  trigger: string;
  pod: string;
  files: number;
  /** Logical bytes (sum of file sizes). */
  bytes: number;
  manifestBytes: number;
  manifestHash: string;
}

export interface SessionInfo {
  sessionId: string;
  tenant: string;
  pool: string;
  pod: string;
  template: string;
  expiresAt: string;
  updatedAt: string;
  /** Distinct file bytes referenced by the kept versions (what the quota counts). */
  uniqBytes: number;
  latest: number;
  versions: VersionInfo[];
}

export interface StoreStats {
  /** Sum of the logical sizes of every kept version. */
  logicalBytes: number;
  /** Bytes actually stored: compressed blobs + manifests. */
  physicalBytes: number;
  blobs: number;
  versions: number;
  sessions: number;
}

/** Input of {@link StateStore.commitSnapshot}. */
export interface SnapshotInput {
  state: SessionState;
  /** Contents already in stored-blob format (sent with `encodeState(…, { fileBlobs: true })`, verified by decode). */
  blobs?: ReadonlyMap<string, Buffer>;
  trigger: string;
  pool: string;
  pod: string;
  template: string;
  expiresAt: string;
  baseVersion: number | null;
}

export interface SnapshotOutcome {
  version: number;
  bytes: number;
  storedBytes: number;
  newBlobs: number;
  at: string;
}

export interface RestoreOutcome {
  version: number;
  /** The state; file entries carry no content: it is in `blobs` (by hash, stored format). */
  state: SessionState;
  /** Stored blobs (crc32-checked), ready for `encodeState(state, { blobs })`. */
  blobs: Map<string, Buffer>;
  /** Newer versions skipped because they failed their integrity check. */
  skipped: number[];
}

/** Manifest of a version: the state without file contents. */
interface Manifest {
  state: SessionState;
  trigger: string;
  at: string;
}

type CommitReply = ['ok', number, number, number, number] | ['missing', string[]] | ['quota', string];

interface ScriptedRedis extends Redis {
  psCommit(...args: Array<string | number | Buffer>): Promise<CommitReply>;
  psDelete(root: string, sid: string, before: string): Promise<number>;
  psTouch(root: string, sid: string, expiresAt: string, deadline: number): Promise<number>;
}

/**
 * The state store: content-addressed, reference-counted blobs shared across versions and
 * sessions, versions committed atomically by one Lua script (see scripts.ts).
 */
@Injectable()
export class StateStore {
  private readonly logger = new Logger(StateStore.name);
  readonly keys: StateKeys;
  private readonly redis: ScriptedRedis;

  constructor(
    @Inject(REDIS) redis: Redis,
    @Inject(PERSISTENCE_CONFIG) private readonly config: PersistenceConfig,
  ) {
    this.keys = new StateKeys(config.QUEUE_PREFIX);
    redis.defineCommand('psCommit', { numberOfKeys: 0, lua: COMMIT_LUA });
    redis.defineCommand('psDelete', { numberOfKeys: 0, lua: DELETE_LUA });
    redis.defineCommand('psTouch', { numberOfKeys: 0, lua: TOUCH_LUA });
    this.redis = redis as ScriptedRedis;
  }

  /** Epoch ms after which a session expiring at `expiresAt` is removed. */
  deadline(expiresAt: string): number {
    const t = Date.parse(expiresAt);
    if (Number.isNaN(t))
      throw new JobError('invalid_argument', `expiresAt "${expiresAt}" is not an ISO time`);
    return t + this.config.GRACE_SECONDS * 1000;
  }

  /**
   * Stores a snapshot (full, or a delta against `baseVersion`). Contents were already
   * checked against their hashes by `decodeState`.
   */
  async commitSnapshot(input: SnapshotInput): Promise<SnapshotOutcome> {
    const { state } = input;
    const sid = state.sessionId;
    const deadline = this.deadline(input.expiresAt);
    const files = state.files;
    const contents = new Map<string, Buffer>();
    let logical = 0;
    for (const f of files) {
      if (f.type !== 'file') continue;
      logical += f.size;
      if (f.content) {
        const h = f.hash ?? hashContent(f.content);
        f.hash = h;
        contents.set(h, f.content);
      }
    }
    if (logical > this.config.MAX_SNAPSHOT_BYTES) {
      throw new JobError(
        'payload_too_large',
        `snapshot of session ${sid} holds ${logical} bytes, more than MAX_SNAPSHOT_BYTES (${this.config.MAX_SNAPSHOT_BYTES})`,
      );
    }
    await this.checkContentless(sid, files, contents, input.baseVersion);
    const hashes = [...new Set(files.filter((f) => f.type === 'file').map((f) => f.hash as string))];
    const rawSizes = new Map(files.filter((f) => f.type === 'file').map((f) => [f.hash as string, f.size]));
    await this.uploadMissing(contents, input.blobs);
    const at = new Date().toISOString();
    const manifestJson: Manifest = {
      state: { ...state, files: files.map(({ content: _c, ...e }) => e) },
      trigger: input.trigger,
      at,
    };
    const manifest = compressBlob(Buffer.from(JSON.stringify(manifestJson)), {
      level: MANIFEST_BROTLI_QUALITY,
    });
    const info: Omit<VersionInfo, 'version'> = {
      at,
      trigger: input.trigger,
      pod: input.pod,
      files: files.length,
      bytes: logical,
      manifestBytes: manifest.data.byteLength,
      manifestHash: manifest.hash,
    };
    for (let attempt = 1; ; attempt++) {
      const reply = await this.redis.psCommit(
        this.keys.root,
        sid,
        this.config.KEEP_VERSIONS,
        manifest.data,
        hashes.join(''),
        hashes.map((h) => rawSizes.get(h) ?? 0).join(',') || '',
        logical,
        JSON.stringify(info),
        state.tenant,
        input.pool,
        input.pod,
        input.template,
        input.expiresAt,
        deadline,
        this.config.SESSION_QUOTA_BYTES,
        at,
      );
      if (reply[0] === 'ok') {
        const [, version, storedBytes, newBlobs] = reply;
        return {
          version: Number(version),
          bytes: logical,
          storedBytes: Number(storedBytes),
          newBlobs: Number(newBlobs),
          at,
        };
      }
      if (reply[0] === 'quota') {
        throw new JobError(
          'payload_too_large',
          `session ${sid} would keep ${reply[1]} bytes, more than its quota SESSION_QUOTA_BYTES (${this.config.SESSION_QUOTA_BYTES})`,
        );
      }
      // Some blob vanished between upload/check and commit (freed by a concurrent delete, or expired).
      const missing = reply[1];
      const lost = missing.filter((h) => !contents.has(h));
      if (lost.length) {
        const paths = files.filter((f) => lost.includes(f.hash as string)).map((f) => f.path);
        throw new JobError(
          'invalid_argument',
          `delta of session ${sid}: files ${paths.slice(0, 5).join(', ')} have no content and their blobs are no longer stored; send a full snapshot`,
        );
      }
      if (attempt >= COMMIT_ATTEMPTS)
        throw new Error(
          `blobs of session ${sid} kept disappearing before commit (${missing.length} missing)`,
        );
      await this.upload(
        missing.map((h) => [h, contents.get(h) as Buffer]),
        input.blobs,
      );
    }
  }

  /** Files without content must reference a hash of the base version (or of this delta). */
  private async checkContentless(
    sid: string,
    files: WorkspaceEntry[],
    contents: Map<string, Buffer>,
    baseVersion: number | null,
  ): Promise<void> {
    const contentless = files.filter((f) => f.type === 'file' && !f.content);
    if (!contentless.length) return;
    for (const f of contentless) {
      if (!isContentHash(f.hash))
        throw new JobError(
          'invalid_argument',
          `file "${f.path}" has neither content nor a valid sha256 hash`,
        );
    }
    if (baseVersion === null) {
      throw new JobError(
        'invalid_argument',
        `full snapshot of session ${sid}: file "${contentless[0]?.path}" has no content (set baseVersion for a delta)`,
      );
    }
    const baseHashes = await this.redis.get(this.keys.hashes(sid, baseVersion));
    if (baseHashes === null) {
      throw new JobError(
        'invalid_argument',
        `delta of session ${sid}: base version ${baseVersion} is not stored (file "${contentless[0]?.path}" cannot be resolved); send a full snapshot`,
      );
    }
    const known = new Set<string>();
    for (let i = 0; i < baseHashes.length; i += 64) known.add(baseHashes.slice(i, i + 64));
    for (const f of contentless) {
      if (!known.has(f.hash as string) && !contents.has(f.hash as string)) {
        throw new JobError(
          'invalid_argument',
          `delta of session ${sid}: file "${f.path}" has no content and its hash is not in base version ${baseVersion}`,
        );
      }
    }
    // A wrong size would make the version fail its integrity check on restore: refuse it now.
    const stored = await this.redis.hmget(
      `${this.keys.root}:braw`,
      ...contentless.map((f) => f.hash as string),
    );
    contentless.forEach((f, i) => {
      const size = stored[i] ?? null;
      const inDelta = contents.get(f.hash as string);
      const expected = inDelta ? inDelta.byteLength : size === null ? f.size : Number(size);
      if (expected !== f.size) {
        throw new JobError(
          'invalid_argument',
          `delta of session ${sid}: file "${f.path}" says ${f.size} bytes but its content has ${expected}`,
        );
      }
    });
  }

  /** Uploads the contents whose blob is not stored yet (compressing only those that did not come as blobs). */
  private async uploadMissing(
    contents: Map<string, Buffer>,
    blobs?: ReadonlyMap<string, Buffer>,
  ): Promise<void> {
    if (!contents.size) return;
    const hashes = [...contents.keys()];
    const pipe = this.redis.pipeline();
    for (const h of hashes) pipe.exists(this.keys.blob(h));
    const res = (await pipe.exec()) ?? [];
    const todo: Array<[string, Buffer]> = [];
    hashes.forEach((h, i) => {
      if (res[i]?.[1] !== 1) todo.push([h, contents.get(h) as Buffer]);
    });
    await this.upload(todo, blobs);
  }

  /** Compresses and writes blobs in ~4 MiB pipelines, each with the pending TTL (NX: never overwrite a stored blob). */
  private async upload(items: Array<[string, Buffer]>, blobs?: ReadonlyMap<string, Buffer>): Promise<void> {
    let pipe = this.redis.pipeline();
    let pending = 0;
    for (const [h, content] of items) {
      const data =
        blobs?.get(h) ?? compressBlob(content, { hash: h, level: this.config.BLOB_BROTLI_QUALITY }).data;
      pipe.set(this.keys.blob(h), data, 'EX', this.config.PENDING_BLOB_TTL_SECONDS, 'NX');
      pending += data.byteLength;
      if (pending >= UPLOAD_BATCH_BYTES) {
        await execOrThrow(pipe);
        pipe = this.redis.pipeline();
        pending = 0;
      }
    }
    if (pipe.length) await execOrThrow(pipe);
  }

  /**
   * The newest version whose manifest and blobs pass their integrity checks; a version that
   * fails is skipped (logged, reported in `skipped`) in favour of the previous one.
   * Undefined when the session has no stored state.
   */
  async restore(sid: string): Promise<RestoreOutcome | undefined> {
    for (let restart = 0; restart <= RESTORE_RESTARTS; restart++) {
      const versions = (await this.redis.lrange(this.keys.versions(sid), 0, -1)).map(Number);
      if (!versions.length) return undefined;
      const skipped: number[] = [];
      let raced = false;
      for (const v of versions) {
        try {
          const { state, blobs } = await this.loadVersion(sid, v);
          return { version: v, state, blobs, skipped };
        } catch (err) {
          if (!(err instanceof StateIntegrityError)) throw err;
          // A version trimmed while we read it is not corruption: start over from the newest.
          if ((await this.redis.lpos(this.keys.versions(sid), String(v))) === null) {
            raced = true;
            break;
          }
          this.logger.error(
            `session ${sid} version ${v} failed its integrity check, falling back: ${err.message}`,
          );
          skipped.push(v);
        }
      }
      if (!raced) {
        throw new JobError(
          'internal',
          `session ${sid}: no stored version passes its integrity check (tried ${skipped.join(', ')})`,
        );
      }
    }
    throw new JobError('unavailable', `session ${sid}: versions kept changing while restoring; retry`);
  }

  /**
   * Reads a version: manifest (sha256-checked) and its blobs, checked WITHOUT decompressing
   * (header + crc32 of the stored bytes). The reader (`decodeState`) decompresses them and
   * checks every content against its sha256, end to end.
   */
  private async loadVersion(
    sid: string,
    v: number,
  ): Promise<{ state: SessionState; blobs: Map<string, Buffer> }> {
    const [infoJson, manifestData] = await Promise.all([
      this.redis.hget(this.keys.vinfo(sid), String(v)),
      this.redis.getBuffer(this.keys.manifest(sid, v)),
    ]);
    if (!infoJson || !manifestData) throw new StateIntegrityError(`version ${v} has no manifest`);
    const info = JSON.parse(infoJson) as VersionInfo;
    const manifest = JSON.parse(decompressBlob(manifestData, info.manifestHash).toString('utf8')) as Manifest;
    const files = manifest.state.files;
    const hashes = [...new Set(files.filter((f) => f.type === 'file').map((f) => f.hash as string))];
    const blobs = hashes.length ? await this.redis.mgetBuffer(...hashes.map((h) => this.keys.blob(h))) : [];
    const stored = new Map<string, Buffer>();
    hashes.forEach((h, i) => {
      const data = blobs[i];
      if (!data) throw new StateIntegrityError(`blob ${h} is missing`);
      verifyBlob(data, h);
      stored.set(h, data);
    });
    return { state: manifest.state, blobs: stored };
  }

  async delete(sid: string): Promise<boolean> {
    return (await this.redis.psDelete(this.keys.root, sid, '')) === 1;
  }

  async touch(sid: string, expiresAt: string): Promise<boolean> {
    return (await this.redis.psTouch(this.keys.root, sid, expiresAt, this.deadline(expiresAt))) === 1;
  }

  async podSessions(pod: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys.pod(pod))).sort();
  }

  async poolSessions(pool: string): Promise<string[]> {
    return (await this.redis.smembers(this.keys.pool(pool))).sort();
  }

  /** Removes every session whose deadline passed (in batches); returns the removed ids. */
  async sweepExpired(now = Date.now()): Promise<string[]> {
    const removed: string[] = [];
    for (;;) {
      const due = await this.redis.zrangebyscore(this.keys.expiry, '-inf', now, 'LIMIT', 0, 200);
      if (!due.length) return removed;
      for (const sid of due) {
        if ((await this.redis.psDelete(this.keys.root, sid, String(now))) === 1) removed.push(sid);
      }
      if (due.length < 200) return removed;
    }
  }

  /** Pool and tenant the session's state was stored for (undefined when nothing is stored). */
  async owner(sid: string): Promise<{ pool: string; tenant: string } | undefined> {
    const [pool, tenant] = await this.redis.hmget(this.keys.session(sid), 'pool', 'tenant');
    return pool === null && tenant === null ? undefined : { pool: pool ?? '', tenant: tenant ?? '' };
  }

  async info(sid: string): Promise<SessionInfo | undefined> {
    const [meta, versions, vinfo] = await Promise.all([
      this.redis.hgetall(this.keys.session(sid)),
      this.redis.lrange(this.keys.versions(sid), 0, -1),
      this.redis.hgetall(this.keys.vinfo(sid)),
    ]);
    if (!meta['seq']) return undefined;
    return {
      sessionId: sid,
      tenant: meta['tenant'] ?? '',
      pool: meta['pool'] ?? '',
      pod: meta['pod'] ?? '',
      template: meta['template'] ?? '',
      expiresAt: meta['expiresAt'] ?? '',
      updatedAt: meta['updatedAt'] ?? '',
      uniqBytes: Number(meta['uniqBytes'] ?? 0),
      latest: Number(meta['latest'] ?? 0),
      versions: versions.map((v) => ({
        version: Number(v),
        ...(JSON.parse(vinfo[v] ?? '{}') as Omit<VersionInfo, 'version'>),
      })),
    };
  }

  async stats(): Promise<StoreStats> {
    const s = await this.redis.hgetall(this.keys.stats);
    const n = (k: string): number => Number(s[k] ?? 0);
    return {
      logicalBytes: n('logical'),
      physicalBytes: n('physical'),
      blobs: n('blobs'),
      versions: n('versions'),
      sessions: n('sessions'),
    };
  }
}

async function execOrThrow(pipe: ReturnType<Redis['pipeline']>): Promise<void> {
  const res = (await pipe.exec()) ?? [];
  const failed = res.find(([err]) => err);
  if (failed) throw failed[0] as Error;
}
