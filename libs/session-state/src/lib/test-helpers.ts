// Shared by the specs of this lib only (not exported from the index).
import type { SessionState, WorkspaceEntry } from './model';
import { hashContent } from './hash';

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

export function sampleState(files: WorkspaceEntry[], over: Partial<SessionState> = {}): SessionState {
  return {
    schemaVersion: 1,
    sessionId: 'sess-1',
    tenant: 'acme',
    poolName: 'python',
    podName: 'python-abc',
    template: 'python',
    createdAt: '2026-11-26T05:00:00.000Z',
    expiresAt: '2026-11-26T06:00:00.000Z',
    ttlSeconds: 3600,
    persist: true,
    files,
    env: { FOO: 'bar', EMPTY: '' },
    history: [{ id: 'e1', code: 'print(1)', exitCode: 0, durationMs: 12.5, at: '2026-11-26T05:01:00.000Z' }],
    packages: [{ manager: 'pip', name: 'numpy', version: '2.1.0' }],
    metadata: { owner: 'me' },
    baseVersion: null,
    ...over,
  };
}
