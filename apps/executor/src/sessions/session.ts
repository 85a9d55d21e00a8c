import type { ExecutionRecord, InstalledPackageRecord, WorkspaceEntry } from '@executor/session-state';
import type { Template } from '@executor/templates';
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
  readonly runtime: Runtime;
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
