import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseMountinfo } from './cgroups';

/** Options of a slot's tmpfs (D1: one quota for the slot's workspace and private tmp). */
export interface TmpfsOptions {
  sizeBytes: number;
  maxInodes: number;
  uid: number;
  gid: number;
}

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
}

function stderrOf(err: unknown): string {
  const e = err as { stderr?: Buffer; message: string };
  return (e.stderr?.toString().trim() || e.message).split('\n')[0] as string;
}

/**
 * Mounts a tmpfs at `dir` (util-linux mount; the executor must be root): bounded in bytes and inodes, nodev,
 * nosuid, mode 0700 owned by the slot's uid.
 */
export function mountTmpfs(dir: string, o: TmpfsOptions): void {
  const opts = [
    `size=${o.sizeBytes}`,
    `nr_inodes=${o.maxInodes}`,
    'nodev',
    'nosuid',
    'mode=0700',
    `uid=${o.uid}`,
    `gid=${o.gid}`,
  ].join(',');
  try {
    run('/bin/mount', ['-t', 'tmpfs', '-o', opts, 'executor-slot', dir]);
  } catch (err) {
    throw new Error(`mount tmpfs on ${dir}: ${stderrOf(err)}`);
  }
}

/** Unmounts `dir` (lazily when still busy: the memory is freed once the last user is gone). */
export function unmount(dir: string): void {
  try {
    run('/bin/umount', [dir]);
  } catch {
    try {
      run('/bin/umount', ['-l', dir]);
    } catch (err) {
      throw new Error(`umount ${dir}: ${stderrOf(err)}`);
    }
  }
}

/** Mount points at or under `root` in this mount namespace, deepest first. */
export function mountsUnder(root: string): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return parseMountinfo(text)
    .map((m) => m.mountPoint)
    .filter((p) => p === root || p.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
}

/** True when `dir` is a mount point. */
export function isMountPoint(dir: string): boolean {
  return mountsUnder(dir).includes(dir);
}
