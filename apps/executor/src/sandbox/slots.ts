import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { JobError } from '@executor/queues';
import type { CgroupLimits, Cgroups } from './cgroups';
import { mountTmpfs, mountsUnder, unmount } from './mounts';
import type { Slot } from './sandbox';

export interface SlotOptions {
  root: string;
  /** First uid/gid of session processes (when distinct uids are used), else undefined. */
  uidBase?: number;
  limits: CgroupLimits;
  cgroups?: Cgroups;
  /** Per-slot tmpfs (root executor): bytes and inodes of the workspace + private tmp together. */
  tmpfs?: { sizeBytes: number; maxInodes: number };
  /** When set, the sandbox cannot contain sessions: `allocate` refuses with this reason. */
  refuse?: string;
}

/**
 * Prepares WORKSPACE_ROOT: a real directory (not a symlink) owned by this uid or by root (a volume such as an
 * emptyDir) — never one another user could have created (e.g. in a shared /tmp) — without the mounts or slots
 * of a crashed executor.
 */
export function prepareWorkspaceRoot(root: string): void {
  mkdirSync(root, { recursive: true, mode: 0o711 });
  const st = lstatSync(root);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory() || (st.uid !== uid && st.uid !== 0))
    throw new Error(`WORKSPACE_ROOT ${root} must be a directory owned by uid ${uid} or root (not a symlink)`);
  if (st.uid === uid) chmodSync(root, 0o711);
  // Slot tmpfs mounts of a previous executor of this pod that crashed.
  for (const m of mountsUnder(root)) if (m !== root) unmount(m);
  for (const name of readdirSync(root)) {
    if (/^slot-\d+$/.test(name)) rmSync(join(root, name), { recursive: true, force: true });
  }
}

/**
 * Hands out slots: a numbered place for one session (or one warm kernel waiting for a session)
 * with its own directories (a tmpfs when root), uid and cgroup. Slot numbers are reused after release.
 */
export class SlotAllocator {
  private readonly free: number[] = [];
  private next = 0;
  private readonly used = new Map<number, Slot>();

  constructor(private readonly opts: SlotOptions) {
    mkdirSync(opts.root, { recursive: true, mode: 0o711 });
  }

  get inUse(): number {
    return this.used.size;
  }

  allocate(): Slot {
    if (this.opts.refuse) throw new JobError('unavailable', this.opts.refuse);
    const index = this.free.length ? (this.free.shift() as number) : this.next++;
    const dir = join(this.opts.root, `slot-${index}`);
    const uid = this.opts.uidBase !== undefined ? this.opts.uidBase + index : undefined;
    const tmpfs = this.opts.tmpfs !== undefined;
    const slot: Slot = {
      index,
      uid,
      gid: uid,
      dir,
      work: join(dir, 'work'),
      tmp: join(dir, 'tmp'),
      tmpfs,
    };
    try {
      removeSlotDir(dir);
      mkdirSync(dir, { mode: 0o700 });
      if (this.opts.tmpfs) {
        mountTmpfs(dir, {
          ...this.opts.tmpfs,
          uid: uid ?? process.getuid?.() ?? 0,
          gid: uid ?? process.getgid?.() ?? 0,
        });
      } else if (uid !== undefined) {
        chownSync(dir, uid, uid);
      }
      chmodSync(dir, 0o700);
      for (const d of [slot.work, slot.tmp]) {
        mkdirSync(d, { mode: 0o700 });
        if (uid !== undefined) chownSync(d, uid, uid);
      }
      const cgroup = this.opts.cgroups?.create(`slot-${index}`, this.opts.limits);
      const ready: Slot = { ...slot, cgroup };
      this.used.set(index, ready);
      return ready;
    } catch (err) {
      try {
        removeSlotDir(dir);
      } catch {
        // reported below
      }
      this.free.push(index);
      throw new JobError('unavailable', `cannot prepare a sandbox slot: ${(err as Error).message}`);
    }
  }

  /** Kills the slot's processes, unmounts and removes its storage and cgroup, and makes its number reusable. */
  release(slot: Slot): void {
    slot.cgroup?.kill();
    try {
      removeSlotDir(slot.dir);
    } finally {
      slot.cgroup?.remove();
      if (this.used.delete(slot.index)) this.free.push(slot.index);
    }
  }

  /** Releases every slot still in use (shutdown). */
  releaseAll(): void {
    for (const slot of [...this.used.values()]) this.release(slot);
  }

  /** Gives every file under the workspace to the slot's uid (after a restore or a put as root). */
  chownTree(slot: Slot, path: string): void {
    if (slot.uid === undefined) return;
    chownRecursive(path, slot.uid);
  }
}

function removeSlotDir(dir: string): void {
  if (!existsSync(dir)) return;
  for (const m of mountsUnder(dir)) unmount(m);
  rmSync(dir, { recursive: true, force: true });
}

function chownRecursive(path: string, uid: number): void {
  // lchown: never follow symlinks out of the workspace.
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  lchownSync(path, uid, uid);
  if (st.isDirectory()) for (const name of readdirSync(path)) chownRecursive(join(path, name), uid);
}
