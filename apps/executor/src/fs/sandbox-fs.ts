import { join } from 'node:path';
import { JobError } from '@executor/queues';
import {
  WorkspaceFsError,
  type WorkspaceFs,
  parseClientPath,
  permissionString,
  sandboxPath,
  type ClientPath,
  type EntryInfo as FsEntry,
} from '@executor/workspace-fs';
import type { EntryInfo } from '@executor/queues';
import type { Sandbox, Slot } from '../sandbox/sandbox';
import { areaFs } from '../files/session-fs';

/**
 * A session's two writable areas as the E2B-style jobs name them: sandbox paths (`/home/user/...`,
 * `/tmp/...`, or relative to `/home/user`) → the no-follow file operations of libs/workspace-fs on
 * the slot's workspace or tmp, and → the path a process inside the sandbox uses.
 */
export class SandboxFs {
  readonly workspace: WorkspaceFs;
  readonly tmp: WorkspaceFs;

  constructor(
    private readonly sandbox: Sandbox,
    private readonly slot: Slot,
    maxFileBytes: number,
  ) {
    this.workspace = areaFs(sandbox, slot, 'workspace', maxFileBytes);
    this.tmp = areaFs(sandbox, slot, 'tmp', maxFileBytes);
  }

  /** Parses a sandbox path (the area root allowed); a bad one is `invalid_argument`. */
  parse(raw: string, opts: { allowRoot?: boolean } = {}): ClientPath {
    try {
      return parseClientPath(raw, { allowRoot: opts.allowRoot ?? true });
    } catch (err) {
      if (err instanceof WorkspaceFsError) throw new JobError('invalid_argument', err.message);
      throw err;
    }
  }

  /** The WorkspaceFs of an area. */
  area(p: ClientPath): WorkspaceFs {
    return p.area === 'tmp' ? this.tmp : this.workspace;
  }

  /**
   * Where a process in the sandbox finds `p`. This is the one place that maps sandbox paths to the
   * sandbox's mount layout (`Sandbox.workspace()`: `/workspace` until the D1 layout binds the
   * workspace at `/home/user`; host paths with SANDBOX=none).
   */
  inner(p: ClientPath): string {
    const base = p.area === 'tmp' ? this.sandbox.tmp(this.slot) : this.sandbox.workspace(this.slot);
    return p.path ? join(base, p.path) : base;
  }

  /** The E2B EntryInfo of a workspace-fs entry of area `area` (owner/group named as in the sandbox). */
  entry(area: ClientPath['area'], e: FsEntry): EntryInfo & { type: 'file' | 'dir' | 'symlink' } {
    const type = e.type === 'other' ? 'file' : e.type;
    const out: EntryInfo & { type: 'file' | 'dir' | 'symlink' } = {
      name: e.name || baseOf(area),
      type,
      path: sandboxPath({ area, path: e.path }),
      size: e.size,
      mode: e.mode & 0o7777,
      permissions: permissionString(e),
      owner: this.userName(e.uid),
      group: this.groupName(e.gid),
      modifiedTime: new Date(e.mtimeMs).toISOString(),
    };
    if (e.type === 'symlink' && e.symlinkTarget !== undefined) out.symlinkTarget = e.symlinkTarget;
    return out;
  }

  private userName(uid: number): string {
    if (uid === (this.slot.uid ?? process.getuid?.())) return 'user';
    return uid === 0 ? 'root' : String(uid);
  }

  private groupName(gid: number): string {
    if (gid === (this.slot.gid ?? this.slot.uid ?? process.getgid?.())) return 'user';
    return gid === 0 ? 'root' : String(gid);
  }
}

function baseOf(area: ClientPath['area']): string {
  return area === 'tmp' ? 'tmp' : 'user';
}
