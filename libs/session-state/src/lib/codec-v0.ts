import { createHash, timingSafeEqual } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { StateIntegrityError } from './errors';
import { SESSION_STATE_SCHEMA_VERSION, type SessionState, type WorkspaceEntry } from './model';

/**
 * Schema version 0: the first layout, modelled on the seed's Python service:
 * `ESST` | u16 0 | sha256 of the gzip body (32) | gzip(JSON), with file contents as base64
 * strings in the JSON, `pool`/`pod` instead of `poolName`/`podName`, and no `tenant`.
 * Kept readable so states written by older builds still restore; never written any more.
 */
export const V0_HEADER_BYTES = 38;

interface V0File extends Omit<WorkspaceEntry, 'content'> {
  content?: string;
}
interface V0State extends Omit<SessionState, 'files' | 'poolName' | 'podName' | 'tenant' | 'baseVersion'> {
  pool: string;
  pod: string;
  files: V0File[];
}

export function decodeV0(buf: Buffer): SessionState {
  if (buf.byteLength < V0_HEADER_BYTES) throw new StateIntegrityError('encoded state (v0) is truncated');
  const body = buf.subarray(V0_HEADER_BYTES);
  const digest = createHash('sha256').update(body).digest();
  if (!timingSafeEqual(digest, buf.subarray(6, V0_HEADER_BYTES))) {
    throw new StateIntegrityError('encoded state (v0) is corrupted or truncated (sha256 mismatch)');
  }
  let v0: V0State;
  try {
    v0 = JSON.parse(gunzipSync(body).toString('utf8')) as V0State;
  } catch (err) {
    throw new StateIntegrityError(`encoded state (v0) is unreadable: ${(err as Error).message}`);
  }
  if (!v0 || !Array.isArray(v0.files) || typeof v0.sessionId !== 'string') {
    throw new StateIntegrityError('encoded state (v0) is malformed');
  }
  const { pool, pod, files, ...rest } = v0;
  return {
    ...rest,
    schemaVersion: SESSION_STATE_SCHEMA_VERSION,
    tenant: '',
    poolName: pool,
    podName: pod,
    baseVersion: null,
    files: files.map(({ content, ...f }) =>
      content === undefined ? f : { ...f, content: Buffer.from(content, 'base64') },
    ),
  };
}

/** Writes the v0 layout. Only for tests and fixtures: production never writes v0. */
export function encodeStateV0ForTests(state: SessionState): Buffer {
  const { poolName, podName, tenant: _tenant, baseVersion: _base, files, ...rest } = state;
  const v0: V0State = {
    ...rest,
    schemaVersion: 0,
    pool: poolName,
    pod: podName,
    files: files.map(({ content, ...f }) =>
      content === undefined ? f : { ...f, content: Buffer.from(content).toString('base64') },
    ),
  };
  const body = gzipSync(Buffer.from(JSON.stringify(v0)));
  const header = Buffer.alloc(V0_HEADER_BYTES);
  header.write('ESST', 0, 'ascii');
  header.writeUInt16BE(0, 4);
  createHash('sha256').update(body).digest().copy(header, 6);
  return Buffer.concat([header, body]);
}
