// Test harness: a real redis-server, the real Nest app in-process, and a JobRpcClient that
// drives it through its real BullMQ queues (as the executor does).
import { register } from 'prom-client';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type Redis from 'ioredis';
import {
  PersistenceJobDefs,
  QueueNames,
  JobRpcClient,
  createRedis,
  putTransfer,
  takeTransfer,
  type SnapshotPayload,
  type SnapshotResult,
} from '@executor/queues';
import {
  decodeState,
  encodeState,
  hashContent,
  type SessionState,
  type WorkspaceEntry,
} from '@executor/session-state';
import { startRedis, uniquePrefix, type StartRedisOptions, type TestRedis } from '@executor/testing';
import { createApp } from '../src/app/bootstrap';
import { loadPersistenceConfig, type PersistenceConfig } from '../src/app/config/config';

export interface Harness {
  redis: TestRedis;
  config: PersistenceConfig;
  app: NestFastifyApplication;
  client: JobRpcClient;
  /** A plain client on the same Redis (inspection, corruption). */
  cmd: Redis;
  close(): Promise<void>;
}

export async function startHarness(
  over: Partial<Record<keyof PersistenceConfig, string>> = {},
  redisOpts: StartRedisOptions = {},
): Promise<Harness> {
  const redis = await startRedis(redisOpts);
  const config = loadPersistenceConfig({
    REDIS_URL: redis.url,
    QUEUE_PREFIX: uniquePrefix('ps'),
    PORT: '0',
    ...over,
  });
  register.clear();
  const app = await createApp(config, { logger: false });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const client = new JobRpcClient({ redisUrl: redis.url, prefix: config.QUEUE_PREFIX });
  const cmd = createRedis(redis.url);
  return {
    redis,
    config,
    app,
    client,
    cmd,
    async close() {
      await client.close();
      await app.close();
      cmd.disconnect();
      await redis.stop();
    },
  };
}

export function file(path: string, content: Buffer | string, mode = 0o644): WorkspaceEntry {
  const buf = typeof content === 'string' ? Buffer.from(content) : content;
  return {
    path,
    type: 'file',
    mode,
    size: buf.byteLength,
    mtimeMs: 1_700_000_000_000,
    hash: hashContent(buf),
    content: buf,
  };
}

export function makeState(
  sessionId: string,
  files: WorkspaceEntry[],
  over: Partial<SessionState> = {},
): SessionState {
  return {
    schemaVersion: 1,
    sessionId,
    tenant: 'acme',
    poolName: 'python',
    podName: 'python-0',
    template: 'python',
    createdAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 3600_000).toISOString(),
    ttlSeconds: 3600,
    persist: true,
    files,
    env: { A: '1' },
    history: [{ id: 'e1', code: 'print(1)', exitCode: 0, durationMs: 3, at: new Date().toISOString() }],
    packages: [{ manager: 'pip', name: 'requests', version: '2.32.0' }],
    metadata: { k: 'v' },
    baseVersion: null,
    ...over,
  };
}

export interface SnapshotOpts {
  baseVersion?: number | null;
  trigger?: 'execution' | 'periodic' | 'explicit' | 'shutdown' | 'migration';
  pod?: string;
  pool?: string;
  expiresAt?: string;
  timeoutMs?: number;
  /** Codec of the encoded state handed over (default brotli). */
  codec?: 'brotli' | 'gzip' | 'none';
  /** Send every content as a stored-format blob (`encodeState(…, { fileBlobs: true })`). */
  fileBlobs?: boolean | { level: number };
}

/** The snapshot job payload for a state (its encoded bytes put in a transfer first). */
export async function snapshotPayload(
  h: { cmd: Redis; config: Pick<PersistenceConfig, 'QUEUE_PREFIX'> },
  state: SessionState,
  o: SnapshotOpts = {},
): Promise<SnapshotPayload> {
  const baseVersion = o.baseVersion ?? null;
  const ref = await putTransfer(
    h.cmd,
    encodeState(
      { ...state, baseVersion },
      { compression: { codec: o.codec ?? 'brotli' }, fileBlobs: o.fileBlobs },
    ),
    { prefix: h.config.QUEUE_PREFIX },
  );
  return {
    sessionId: state.sessionId,
    tenant: state.tenant,
    pool: o.pool ?? state.poolName,
    pod: o.pod ?? state.podName,
    template: state.template,
    trigger: o.trigger ?? 'execution',
    ttlSeconds: state.ttlSeconds,
    expiresAt: o.expiresAt ?? state.expiresAt,
    baseVersion,
    state: ref,
  };
}

/** Sends a snapshot through the real queue, as the executor does. */
export async function snapshot(
  h: { client: JobRpcClient; cmd: Redis; config: Pick<PersistenceConfig, 'QUEUE_PREFIX'> },
  state: SessionState,
  o: SnapshotOpts = {},
): Promise<SnapshotResult> {
  const payload = await snapshotPayload(h, state, o);
  return h.client.call(QueueNames.snapshot, PersistenceJobDefs.snapshot, payload, {
    timeoutMs: o.timeoutMs ?? 20_000,
  });
}

/** Restores through the real queue and decodes the handed-over state. */
export async function restore(
  h: Pick<Harness, 'client' | 'cmd'>,
  sessionId: string,
  timeoutMs = 20_000,
): Promise<{ found: boolean; version?: number; state?: SessionState }> {
  const r = await h.client.call(QueueNames.restore, PersistenceJobDefs.restore, { sessionId }, { timeoutMs });
  if (!r.found || !r.state) return { found: r.found };
  return { found: true, version: r.version, state: decodeState(await takeTransfer(h.cmd, r.state)) };
}

/** Keys matching a pattern (test inspection only). */
export async function keys(cmd: Redis, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await cmd.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    out.push(...batch);
  } while (cursor !== '0');
  return out.sort();
}

/** Content of every file of a state, by path. */
export function contents(state: SessionState): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of state.files) if (f.type === 'file') out[f.path] = (f.content as Buffer).toString('base64');
  return out;
}
