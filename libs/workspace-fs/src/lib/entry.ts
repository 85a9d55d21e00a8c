import type { Stats } from 'node:fs';

/** Entry types: what capture and listings keep, plus `other` (FIFO, socket, device). */
export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

/** What an `other` entry is. */
export type SpecialKind = 'fifo' | 'socket' | 'char-device' | 'block-device' | 'unknown';

/**
 * One entry as stat/list report it — never following a symlink in its last component (a symlink is
 * reported as a symlink, with its target). Field names follow the E2B `EntryInfo` where they can.
 */
export interface EntryInfo {
  /** Last component (`''` for the root). */
  name: string;
  /** Path relative to the root it was reached from (`''` for the root). */
  path: string;
  type: EntryType;
  /** Set for `other` entries. */
  kind?: SpecialKind;
  /** st_size (for a symlink: the length of its target). */
  size: number;
  /** Permission bits (`st_mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  /** Symlinks only: the target as stored in the link (not resolved). */
  symlinkTarget?: string;
}

export function entryType(st: Stats): EntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

export function specialKind(st: Stats): SpecialKind {
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'char-device';
  if (st.isBlockDevice()) return 'block-device';
  return 'unknown';
}

export function toEntryInfo(name: string, path: string, st: Stats, symlinkTarget?: string): EntryInfo {
  const type = entryType(st);
  const e: EntryInfo = {
    name,
    path,
    type,
    size: st.size,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    mtimeMs: st.mtimeMs,
  };
  if (type === 'other') e.kind = specialKind(st);
  if (type === 'symlink' && symlinkTarget !== undefined) e.symlinkTarget = symlinkTarget;
  return e;
}

/** `ls -l` style permissions: `drwxr-xr-x`, `-rw-r--r--`, `lrwxrwxrwx` (setuid/setgid/sticky as s/S, t/T). */
export function permissionString(e: Pick<EntryInfo, 'type' | 'mode' | 'kind'>): string {
  const t =
    e.type === 'dir'
      ? 'd'
      : e.type === 'symlink'
        ? 'l'
        : e.type === 'file'
          ? '-'
          : e.kind === 'fifo'
            ? 'p'
            : e.kind === 'socket'
              ? 's'
              : e.kind === 'char-device'
                ? 'c'
                : e.kind === 'block-device'
                  ? 'b'
                  : '?';
  const m = e.mode;
  const trio = (shift: number, special: boolean, sChar: string): string => {
    const r = m & (4 << shift) ? 'r' : '-';
    const w = m & (2 << shift) ? 'w' : '-';
    const xBit = (m & (1 << shift)) !== 0;
    const x = special ? (xBit ? sChar : sChar.toUpperCase()) : xBit ? 'x' : '-';
    return r + w + x;
  };
  return (
    t + trio(6, (m & 0o4000) !== 0, 's') + trio(3, (m & 0o2000) !== 0, 's') + trio(0, (m & 0o1000) !== 0, 't')
  );
}
