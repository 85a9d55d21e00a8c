import { chmodSync, chownSync, lchownSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Cgroups } from './cgroups';
import type { Slot } from './sandbox';

export interface SlotOptions {
  root: string;
  /** First uid/gid of session processes (when distinct uids are used), else undefined. */
  uidBase?: number;
  pidsMax: number;
  memoryBytes: number;
  cgroups?: Cgroups;
}

/**
 * Hands out slots: a numbered place for one session (or one warm kernel waiting for a session)
 * with its own directories, uid and cgroup. Slot numbers are reused after release.
 */
export class SlotAllocator {
  private readonly free: number[] = [];
  private next = 0;
  private readonly used = new Set<number>();

  constructor(private readonly opts: SlotOptions) {
    mkdirSync(opts.root, { recursive: true, mode: 0o711 });
  }

  get inUse(): number {
    return this.used.size;
  }

  allocate(): Slot {
    const index = this.free.length ? (this.free.shift() as number) : this.next++;
    this.used.add(index);
    const dir = join(this.opts.root, `slot-${index}`);
    rmSync(dir, { recursive: true, force: true });
    const work = join(dir, 'work');
    const tmp = join(dir, 'tmp');
    mkdirSync(work, { recursive: true });
    mkdirSync(join(tmp, 'home'), { recursive: true });
    const uid = this.opts.uidBase !== undefined ? this.opts.uidBase + index : undefined;
    chmodSync(dir, 0o711);
    if (uid !== undefined) {
      for (const d of [work, tmp, join(tmp, 'home')]) {
        chownSync(d, uid, uid);
        chmodSync(d, 0o700);
      }
    }
    let cgroup;
    try {
      cgroup = this.opts.cgroups?.create(
        `slot-${index}`,
        { pidsMax: this.opts.pidsMax, memoryBytes: this.opts.memoryBytes },
        uid,
      );
    } catch {
      cgroup = undefined;
    }
    return { index, uid, gid: uid, dir, work, tmp, cgroup };
  }

  /** Removes the slot's processes, cgroup and directories, and makes its number reusable. */
  release(slot: Slot): void {
    slot.cgroup?.remove();
    rmSync(slot.dir, { recursive: true, force: true });
    if (this.used.delete(slot.index)) this.free.push(slot.index);
  }

  /** Gives every file under the workspace to the slot's uid (after a restore or a put as root). */
  chownTree(slot: Slot, path: string): void {
    if (slot.uid === undefined) return;
    chownRecursive(path, slot.uid);
  }
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
