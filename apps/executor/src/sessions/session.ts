import type { ExecutionRecord, InstalledPackageRecord, WorkspaceEntry } from '@executor/session-state';
import type { Template } from '@executor/templates';
import type { SessionContexts } from '../contexts/session-contexts';
import type { SandboxFs } from '../fs/sandbox-fs';
import type { WatchManager } from '../fs/watches';
import type { ProcessManager } from '../processes/process-manager';
import type { Runtime } from '../runner/runtime';
import type { Slot } from '../sandbox/sandbox';
import { FifoMutex } from './mutex';

/** A session held by this pod. */
export interface Session {
  readonly id: string;
  readonly tenant: string;
  readonly template: Template;
  readonly pool: string;
  readonly persist: boolean;
  ttlSeconds: number;
  env: Record<string, string>;
  metadata: Record<string, string>;
  readonly network: boolean;
  createdAt: string;
  expiresAt: string;
  readonly slot: Slot;
  /** The default context's runtime (the template's main kernel, or its one-shot runner). */
  readonly runtime: Runtime;
  /** Sandbox paths (/home/user, /tmp) → no-follow file operations and in-sandbox paths. */
  readonly fs: SandboxFs;
  /** Every kernel of the session (`default` = runtime). */
  readonly contexts: SessionContexts;
  /** Commands (process.*). */
  readonly processes: ProcessManager;
  /** fs.watch watches. */
  readonly watches: WatchManager;
  history: ExecutionRecord[];
  packages: InstalledPackageRecord[];
  /** The last stored snapshot: its version and entries (without content) for the next delta. */
  lastSnapshot?: { version: number; files: WorkspaceEntry[]; at: string; bytes: number };
  /** History/packages/env changed since the last snapshot. */
  stateDirty: boolean;
  /** Python kernels must drop their import caches after packages appear (install, restore). */
  invalidateImports: boolean;
  readonly mutex: FifoMutex;
}

export function newMutex(): FifoMutex {
  return new FifoMutex();
}
