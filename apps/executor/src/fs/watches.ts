import { watch, type FSWatcher, type Stats } from 'node:fs';
import {
  JobError,
  WATCH_IDLE_TTL_MS,
  type EntryInfo,
  type WatchEvent,
  type WatchEventType,
} from '@executor/queues';
import { joinPath, toEntryInfo, type ClientPath, type DirHandle } from '@executor/workspace-fs';
import type { SandboxFs } from './sandbox-fs';

/** Directories one recursive watch follows at most (each holds a descriptor and an inotify watch). */
export const MAX_WATCHED_DIRS = 1024;
/**
 * inotify says nothing (through fs.watch) when the watched directory itself is removed: its
 * descriptor's link count is checked this often (and after every batch of events).
 */
const ROOT_CHECK_MS = 1000;

export interface WatchManagerOptions {
  fs: SandboxFs;
  maxWatches: number;
  /** Publishes one event on the watch's channel. */
  publish: (watchId: string, event: WatchEvent) => void;
  /** A watch not refreshed for this long ends (default 10 min). */
  idleMs?: number;
}

interface Known {
  ino: number;
  mode: number;
  size: number;
  mtimeMs: number;
}

interface Raw {
  dir: string;
  kind: 'rename' | 'change';
  name: string;
}

/**
 * One watch: inotify (fs.watch) on a directory opened without following links (`/proc/self/fd/<fd>`
 * of a DirHandle, so a swap of the path for a symlink cannot redirect it), and — recursive — on
 * every sub-directory the same way. fs.watch only says `rename`/`change`; the E2B event types are
 * derived from what the entry is now against what the watch knew of it: a new name → create, a
 * vanished name → remove (rename when a new name with the same inode appeared in the same batch,
 * which is then a create: fsnotify's pair), a change of mode only → chmod, else write.
 */
class Watch {
  private readonly dirs = new Map<string, { handle: DirHandle; watcher: FSWatcher }>();
  private readonly known = new Map<string, Known>();
  private queue: Raw[] = [];
  private scheduled = false;
  private processing: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private rootCheck?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    readonly id: string,
    readonly where: ClientPath,
    readonly recursive: boolean,
    private readonly fs: SandboxFs,
    private readonly emit: (e: WatchEvent) => void,
    private readonly onEnd: (w: Watch, reason: string) => void,
    private readonly idleMs: number,
  ) {}

  async start(root: DirHandle): Promise<void> {
    await this.add('', root, false);
    this.refresh();
    this.rootCheck = setInterval(() => void this.checkRoot(), ROOT_CHECK_MS);
    this.rootCheck.unref();
  }

  /** Ends the watch when the watched directory is gone (removed, or its last link moved away). */
  private async checkRoot(): Promise<void> {
    if (this.stopped) return;
    const root = this.dirs.get('');
    const st = root ? await root.handle.stat().catch(() => undefined) : undefined;
    if (!st || st.nlink === 0) this.end('the watched directory was removed');
  }

  refresh(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.end('the watch was not refreshed for 10 minutes'), this.idleMs);
    this.timer.unref();
  }

  /** Stops watching (no event); `end` (with an `end` event) is for stops the caller did not ask for. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.rootCheck) clearInterval(this.rootCheck);
    const all = [...this.dirs.values()];
    this.dirs.clear();
    for (const d of all) d.watcher.close();
    await Promise.all(all.map((d) => d.handle.close().catch(() => undefined)));
  }

  end(reason: string): void {
    if (this.stopped) return;
    this.emit({ t: 'end', reason });
    this.onEnd(this, reason);
  }

  /** Watches the directory `rel` (relative to the watched one); `announce`: report its entries as created. */
  private async add(rel: string, handle: DirHandle, announce: boolean): Promise<void> {
    if (this.stopped || this.dirs.has(rel) || this.dirs.size >= MAX_WATCHED_DIRS) {
      await handle.close();
      return;
    }
    let watcher: FSWatcher;
    try {
      watcher = watch(handle.procPath, { persistent: false }, (kind, name) => {
        if (name !== null && name !== undefined)
          this.push({ dir: rel, kind: kind as Raw['kind'], name: String(name) });
      });
    } catch {
      await handle.close();
      return;
    }
    watcher.on('error', () => this.drop(rel));
    this.dirs.set(rel, { handle, watcher });
    // What is there now (created before the watch existed): known, and announced for new sub-dirs.
    const names = await handle.names(100_000).catch(() => [] as string[]);
    for (const name of names) {
      const st = await handle.lstat(name).catch(() => undefined);
      if (!st) continue;
      const path = rel ? `${rel}/${name}` : name;
      this.known.set(path, known(st));
      if (announce)
        this.emit({
          t: 'event',
          name: path,
          type: 'create',
          entry: await this.entryOf(handle, name, path, st),
        });
      if (this.recursive && st.isDirectory()) {
        const child = await handle.child(name, joinPath(handle.path, name)).catch(() => undefined);
        if (child) await this.add(path, child, announce);
      }
    }
  }

  private drop(rel: string): void {
    for (const [path, d] of [...this.dirs]) {
      if (path === rel || path.startsWith(`${rel}/`) || rel === '') {
        d.watcher.close();
        void d.handle.close().catch(() => undefined);
        this.dirs.delete(path);
      }
    }
  }

  private push(raw: Raw): void {
    if (this.stopped) return;
    this.queue.push(raw);
    if (this.scheduled) return;
    this.scheduled = true;
    // One batch per turn of the event loop: inotify delivers a rename's two halves together.
    setImmediate(() => {
      this.scheduled = false;
      const batch = this.queue;
      this.queue = [];
      this.processing = this.processing.then(() => this.process(batch)).catch(() => undefined);
    });
  }

  private async process(batch: Raw[]): Promise<void> {
    if (this.stopped) return;
    const now = new Map<string, Stats | undefined>();
    const order: Array<{ path: string; raw: Raw }> = [];
    for (const raw of batch) {
      const path = raw.dir ? `${raw.dir}/${raw.name}` : raw.name;
      if (!order.some((o) => o.path === path && o.raw.kind === raw.kind)) order.push({ path, raw });
      if (!now.has(path)) {
        const d = this.dirs.get(raw.dir);
        now.set(path, d ? await d.handle.lstat(raw.name).catch(() => undefined) : undefined);
      }
    }
    // Inodes that appeared under a new name in this batch: a vanished name with one of them moved.
    const appeared = new Set<number>();
    for (const { path } of order) {
      const st = now.get(path);
      const before = this.known.get(path);
      if (st && (!before || before.ino !== st.ino)) appeared.add(st.ino);
    }
    for (const { path, raw } of order) {
      const st = now.get(path);
      const before = this.known.get(path);
      let type: WatchEventType | undefined;
      if (raw.kind === 'rename') {
        if (st && (!before || before.ino !== st.ino)) type = 'create';
        else if (!st && before) type = appeared.has(before.ino) ? 'rename' : 'remove';
        // st && before with the same inode: already known (e.g. announced when its directory appeared)
      } else if (st) {
        type =
          before &&
          before.mode !== (st.mode & 0o7777) &&
          before.size === st.size &&
          before.mtimeMs === st.mtimeMs
            ? 'chmod'
            : 'write';
      }
      if (st) this.known.set(path, known(st));
      else {
        this.known.delete(path);
        for (const k of [...this.known.keys()]) if (k.startsWith(`${path}/`)) this.known.delete(k);
      }
      if (!type) continue;
      const d = this.dirs.get(raw.dir);
      const entry = st && d ? await this.entryOf(d.handle, raw.name, path, st) : undefined;
      this.emit(entry ? { t: 'event', name: path, type, entry } : { t: 'event', name: path, type });
      if (this.recursive && st?.isDirectory() && type === 'create' && d) {
        const child = await d.handle
          .child(raw.name, joinPath(d.handle.path, raw.name))
          .catch(() => undefined);
        if (child) await this.add(path, child, true);
      }
      if (!st && this.dirs.has(path)) this.drop(path);
    }
    await this.checkRoot();
  }

  private async entryOf(
    handle: DirHandle,
    name: string,
    path: string,
    st: Stats,
  ): Promise<EntryInfo | undefined> {
    let target: string | undefined;
    if (st.isSymbolicLink()) target = await handle.readlink(name).catch(() => undefined);
    const areaPath = joinPath(this.where.path, path);
    return this.fs.entry(this.where.area, toEntryInfo(name, areaPath, st, target));
  }
}

function known(st: Stats): Known {
  return { ino: st.ino, mode: st.mode & 0o7777, size: st.size, mtimeMs: st.mtimeMs };
}

/** The filesystem watches of one session (`fs.watch` / `fs.unwatch`); they die with the session. */
export class WatchManager {
  private readonly watches = new Map<string, Watch>();

  constructor(private readonly opts: WatchManagerOptions) {}

  get size(): number {
    return this.watches.size;
  }

  /** Starts a watch, or refreshes it when `watchId` already watches the same path. */
  async watch(watchId: string, path: string, recursive: boolean): Promise<void> {
    const where = this.opts.fs.parse(path);
    const existing = this.watches.get(watchId);
    if (existing) {
      if (
        existing.where.area !== where.area ||
        existing.where.path !== where.path ||
        existing.recursive !== recursive
      )
        throw new JobError('conflict', `watch "${watchId}" watches another path`);
      existing.refresh();
      return;
    }
    if (this.watches.size >= this.opts.maxWatches)
      throw new JobError(
        'rate_limited',
        `this session has ${this.watches.size} watches, the limit is ${this.opts.maxWatches}`,
      );
    let handle: DirHandle;
    try {
      handle = await this.opts.fs.area(where).openDir(where.path);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'not_found') throw new JobError('not_found', `no directory "${path}"`);
      if (code === 'not_a_directory') throw new JobError('invalid_argument', `"${path}" is not a directory`);
      if (code === 'invalid_path' || code === 'escape')
        throw new JobError('invalid_argument', (err as Error).message);
      throw err;
    }
    const w = new Watch(
      watchId,
      where,
      recursive,
      this.opts.fs,
      (e) => this.opts.publish(watchId, e),
      (ended) => void this.remove(ended),
      this.opts.idleMs ?? WATCH_IDLE_TTL_MS,
    );
    this.watches.set(watchId, w);
    try {
      await w.start(handle);
    } catch (err) {
      this.watches.delete(watchId);
      await w.stop();
      throw err;
    }
  }

  async unwatch(watchId: string): Promise<void> {
    const w = this.watches.get(watchId);
    if (!w) throw new JobError('not_found', `no watch "${watchId}"`);
    this.watches.delete(watchId);
    await w.stop();
  }

  /** Ends every watch with an `end` event (session closed). */
  async closeAll(reason: string): Promise<void> {
    const all = [...this.watches.values()];
    this.watches.clear();
    for (const w of all) w.end(reason);
    await Promise.all(all.map((w) => w.stop()));
  }

  private async remove(w: Watch): Promise<void> {
    if (this.watches.get(w.id) === w) this.watches.delete(w.id);
    await w.stop();
  }
}
