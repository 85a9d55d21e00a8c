import { WorkspaceFs, type Owner, type PathArea } from '@executor/workspace-fs';
import type { Sandbox, Slot } from '../sandbox/sandbox';

/** The session's uid/gid outside the sandbox, when it has its own (root executor). */
export function slotOwner(slot: Slot): Owner | undefined {
  return slot.uid === undefined ? undefined : { uid: slot.uid, gid: slot.gid ?? slot.uid };
}

/**
 * Absolute symlink targets that name the workspace: where session code sees it (bwrap: the
 * sandbox path; none: the host path) and its host path.
 */
export function workspaceAliases(sandbox: Sandbox, slot: Slot): string[] {
  return [...new Set([sandbox.workspace(slot), slot.work])];
}

/** No-follow file operations on the session's workspace, writing as the session's uid. */
export function workspaceFs(sandbox: Sandbox, slot: Slot, maxFileBytes: number): WorkspaceFs {
  return new WorkspaceFs({
    root: slot.work,
    aliases: workspaceAliases(sandbox, slot),
    owner: slotOwner(slot),
    maxFileBytes,
  });
}

/**
 * The WorkspaceFs of one area of the session as a client path names it (`parseClientPath`):
 * `workspace` (the sandbox's /home/user) or `tmp` (its private /tmp). Both live on the slot's
 * filesystem, so `rename` between them works.
 */
export function areaFs(sandbox: Sandbox, slot: Slot, area: PathArea, maxFileBytes: number): WorkspaceFs {
  if (area === 'workspace') return workspaceFs(sandbox, slot, maxFileBytes);
  return new WorkspaceFs({
    root: slot.tmp,
    aliases: [...new Set([sandbox.tmp(slot), slot.tmp])],
    owner: slotOwner(slot),
    maxFileBytes,
  });
}
