import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { permissionString } from './entry';
import { WorkspaceFsError } from './errors';
import { cleanupDirs, tempDir } from './test-helpers';
import { WorkspaceFs } from './workspace-fs';

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WorkspaceFsError) return err.code;
    throw err;
  }
  return 'ok';
}

describe('WorkspaceFs', () => {
  let root: string;
  let outside: string;
  let ws: WorkspaceFs;

  beforeEach(() => {
    root = tempDir();
    outside = tempDir('wsfs-outside-');
    writeFileSync(join(outside, 'secret'), 'SECRET');
    mkdirSync(join(root, 'd/sub'), { recursive: true });
    writeFileSync(join(root, 'a.txt'), 'A');
    writeFileSync(join(root, 'd/sub/deep.txt'), 'DEEP');
    symlinkSync('a.txt', join(root, 'to-a'));
    symlinkSync('d', join(root, 'to-d'));
    symlinkSync('..', join(root, 'd/up'));
    symlinkSync('/home/user/a.txt', join(root, 'abs-in'));
    symlinkSync(join(outside, 'secret'), join(root, 'abs-out'));
    symlinkSync('../../outside', join(root, 'd/rel-out'));
    symlinkSync(outside, join(root, 'dir-out'));
    symlinkSync('loop2', join(root, 'loop1'));
    symlinkSync('loop1', join(root, 'loop2'));
    symlinkSync('missing.txt', join(root, 'dangling'));
    ws = new WorkspaceFs({ root, aliases: ['/home/user', root] });
  });
  afterAll(cleanupDirs);

  describe('reads', () => {
    it('reads files directly and through symlinks that stay inside (relative, .., absolute alias)', async () => {
      expect((await ws.readFile('a.txt')).toString()).toBe('A');
      expect((await ws.readFile('to-a')).toString()).toBe('A');
      expect((await ws.readFile('to-d/sub/deep.txt')).toString()).toBe('DEEP');
      expect((await ws.readFile('d/up/a.txt')).toString()).toBe('A');
      expect((await ws.readFile('d/up/d/up/to-d/sub/deep.txt')).toString()).toBe('DEEP');
      expect((await ws.readFile('abs-in')).toString()).toBe('A');
    });

    it.each([
      ['abs-out', 'escape'],
      ['dir-out/secret', 'escape'],
      ['d/rel-out', 'escape'],
      ['d/up/d/up/d/up/..', 'invalid_path'],
      ['loop1', 'too_deep'],
      ['dangling', 'not_found'],
      ['nope/x', 'not_found'],
      ['a.txt/x', 'not_a_directory'],
      ['d', 'is_a_directory'],
      ['to-d', 'is_a_directory'],
    ])('refuses %s (%s)', async (path, code) => {
      expect(await codeOf(ws.readFile(path))).toBe(code);
    });

    it('never opens FIFOs, sockets or devices for their content (no hang), and bounds sizes without reading', async () => {
      execFileSync('mkfifo', [join(root, 'fifo')]);
      execFileSync('mknod', [join(root, 'null-dev'), 'c', '1', '3']);
      const sockPath = join(root, 'sock');
      const server = createServer();
      await new Promise<void>((r) => server.listen(sockPath, r));
      try {
        expect(await codeOf(ws.readFile('fifo'))).toBe('not_a_file');
        expect(await codeOf(ws.readFile('null-dev'))).toBe('not_a_file');
        expect(await codeOf(ws.readFile('sock'))).toBe('not_a_file');
      } finally {
        server.close();
      }
      execFileSync('truncate', ['-s', '100G', join(root, 'sparse.bin')]);
      const bounded = new WorkspaceFs({ root, maxFileBytes: 1024 * 1024 });
      const t0 = Date.now();
      expect(await codeOf(bounded.readFile('sparse.bin'))).toBe('too_large');
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(await codeOf(ws.readFile('a.txt', { maxBytes: 0 }))).toBe('too_large');
    });

    it('streams a file in chunks through one descriptor', async () => {
      const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
      writeFileSync(join(root, 'big.bin'), big);
      const chunks: Buffer[] = [];
      for await (const c of ws.readStream('big.bin', { chunkBytes: 1024 * 1024 })) chunks.push(c);
      expect(chunks.length).toBe(4);
      expect(Buffer.concat(chunks).equals(big)).toBe(true);
      const h = await ws.openRead('to-a');
      expect(h.size).toBe(1);
      expect(h.entry).toMatchObject({ type: 'file', path: 'to-a', size: 1 });
      await h.close();
    });
  });

  describe('stat and list', () => {
    it('stats without following the last component unless asked', async () => {
      expect(await ws.stat('to-a')).toMatchObject({ name: 'to-a', type: 'symlink', symlinkTarget: 'a.txt' });
      expect(await ws.stat('to-a', { follow: true })).toMatchObject({ type: 'file', size: 1 });
      expect(await ws.stat('abs-out')).toMatchObject({
        type: 'symlink',
        symlinkTarget: join(outside, 'secret'),
      });
      expect(await codeOf(ws.stat('abs-out', { follow: true }))).toBe('escape');
      expect(await ws.stat('d')).toMatchObject({ type: 'dir', path: 'd', name: 'd' });
      expect(await ws.stat('')).toMatchObject({ type: 'dir', path: '', name: '' });
      expect(await codeOf(ws.stat('nope'))).toBe('not_found');
      expect(await ws.exists('dangling')).toBe(true);
      expect(await ws.exists('nope')).toBe(false);
      const e = await ws.stat('a.txt');
      expect(permissionString(e)).toBe('-rw-r--r--');
      expect(permissionString({ type: 'dir', mode: 0o1777 })).toBe('drwxrwxrwt');
      expect(permissionString({ type: 'file', mode: 0o4754 })).toBe('-rwsr-xr--');
    });

    it('lists to a depth, never descending into symlinks', async () => {
      const one = await ws.list('');
      expect(one.map((e) => e.path)).toEqual([
        'a.txt',
        'abs-in',
        'abs-out',
        'd',
        'dangling',
        'dir-out',
        'loop1',
        'loop2',
        'to-a',
        'to-d',
      ]);
      const two = await ws.list('d', { depth: 3 });
      expect(two.map((e) => `${e.type}:${e.path}`)).toEqual([
        'symlink:d/rel-out',
        'dir:d/sub',
        'file:d/sub/deep.txt',
        'symlink:d/up',
      ]);
      // the listed directory itself may be reached through a link inside; entries keep the asked path
      expect((await ws.list('to-d')).map((e) => e.path)).toEqual(['to-d/rel-out', 'to-d/sub', 'to-d/up']);
      expect(await codeOf(ws.list('dir-out'))).toBe('escape');
      expect(await codeOf(ws.list('a.txt'))).toBe('not_a_directory');
      expect(await codeOf(ws.list('', { depth: 9, maxEntries: 3 }))).toBe('too_large');
    });
  });

  describe('writes', () => {
    it('creates parents and files with exact modes, owned by the session uid', async () => {
      const owned = new WorkspaceFs({ root, owner: { uid: 43210, gid: 43211 } });
      const e = await owned.writeFile('new/dir/f.txt', Buffer.from('hello'));
      expect(e).toMatchObject({ type: 'file', size: 5, mode: 0o644, uid: 43210, gid: 43211 });
      for (const p of ['new', 'new/dir', 'new/dir/f.txt']) {
        const st = statSync(join(root, p));
        expect([st.uid, st.gid]).toEqual([43210, 43211]);
      }
      expect(statSync(join(root, 'new')).mode & 0o777).toBe(0o755);
      chmodSync(join(root, 'new/dir/f.txt'), 0o600);
      await owned.writeFile('new/dir/f.txt', Buffer.from('again'));
      expect(statSync(join(root, 'new/dir/f.txt')).mode & 0o777).toBe(0o600); // kept on replace
      expect(readFileSync(join(root, 'new/dir/f.txt'), 'utf8')).toBe('again');
      await owned.writeFile('x.sh', Buffer.from('#!/bin/sh'), { mode: 0o750, mtimeMs: 1_700_000_000_000 });
      expect(statSync(join(root, 'x.sh')).mode & 0o777).toBe(0o750);
      expect(statSync(join(root, 'x.sh')).mtimeMs).toBe(1_700_000_000_000);
    });

    it('writes through a symlink that stays inside, refuses one that leaves', async () => {
      await ws.writeFile('to-a', Buffer.from('via link'));
      expect(readFileSync(join(root, 'a.txt'), 'utf8')).toBe('via link');
      expect(lstatSync(join(root, 'to-a')).isSymbolicLink()).toBe(true);
      await ws.writeFile('dangling', Buffer.from('made'));
      expect(readFileSync(join(root, 'missing.txt'), 'utf8')).toBe('made');
      expect(await codeOf(ws.writeFile('abs-out', Buffer.from('x')))).toBe('escape');
      expect(await codeOf(ws.writeFile('dir-out/new', Buffer.from('x')))).toBe('escape');
      expect(await codeOf(ws.writeFile('d', Buffer.from('x')))).toBe('is_a_directory');
      expect(await codeOf(ws.writeFile('a.txt/x', Buffer.from('x')))).toBe('not_a_directory');
      expect(await codeOf(ws.writeFile('no/parents', Buffer.from('x'), { parents: false }))).toBe(
        'not_found',
      );
      expect(readdirSync(outside)).toEqual(['secret']);
      expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('SECRET');
    });

    it('is atomic: a failing or oversized source leaves the old file, and no temporary file behind', async () => {
      async function* failing(): AsyncGenerator<Buffer> {
        yield Buffer.from('partial');
        throw new Error('upload broke');
      }
      await expect(ws.writeFile('a.txt', failing())).rejects.toThrow('upload broke');
      expect(await codeOf(ws.writeFile('a.txt', [Buffer.alloc(10)], { maxBytes: 5 }))).toBe('too_large');
      expect(readFileSync(join(root, 'a.txt'), 'utf8')).toBe('A');
      expect(readdirSync(root).filter((n) => n.includes('.wsfs-'))).toEqual([]);
    });

    it('streams writes through a Writable (end commits, destroy aborts)', async () => {
      const data = Buffer.alloc(2 * 1024 * 1024 + 3, 1);
      const w = ws.createWriteStream('streamed/big.bin');
      await pipeline(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), w.stream);
      expect(await w.done).toMatchObject({ size: data.length });
      expect(readFileSync(join(root, 'streamed/big.bin')).equals(data)).toBe(true);
      const aborted = ws.createWriteStream('a.txt');
      aborted.stream.write(Buffer.from('half'));
      aborted.stream.destroy(new Error('client went away'));
      await expect(aborted.done).rejects.toThrow();
      expect(readFileSync(join(root, 'a.txt'), 'utf8')).toBe('A');
    });
  });

  describe('mkdir, rename, remove, symlink', () => {
    it('mkdir -p, created flag, exists for a file', async () => {
      expect(await ws.mkdir('m/n/o')).toMatchObject({ created: true, entry: { type: 'dir', path: 'm/n/o' } });
      expect((await ws.mkdir('m/n/o')).created).toBe(false);
      expect(await codeOf(ws.mkdir('a.txt'))).toBe('exists');
      expect(await codeOf(ws.mkdir('p/q', { parents: false }))).toBe('not_found');
      expect(await codeOf(ws.mkdir('dir-out/evil'))).toBe('escape');
      expect(readdirSync(outside)).toEqual(['secret']);
    });

    it('renames entries themselves, across roots on one filesystem, with rename(2) semantics', async () => {
      expect(await ws.rename('a.txt', 'moved/a.txt')).toMatchObject({ type: 'file', path: 'moved/a.txt' });
      expect(await ws.rename('dir-out', 'moved/link')).toMatchObject({
        type: 'symlink',
        symlinkTarget: outside,
      });
      expect(readlinkSync(join(root, 'moved/link'))).toBe(outside);
      expect(await codeOf(ws.rename('d', 'd/sub/inside'))).toBe('invalid_operation');
      mkdirSync(join(root, 'full'));
      writeFileSync(join(root, 'full/x'), 'x');
      expect(await codeOf(ws.rename('d', 'full'))).toBe('not_empty');
      expect(await codeOf(ws.rename('nope', 'x'))).toBe('not_found');
      expect(await codeOf(ws.rename('', 'x'))).toBe('invalid_operation');
      const tmpRoot = tempDir('wsfs-tmp-'); // same filesystem as root
      const tmp = new WorkspaceFs({ root: tmpRoot });
      await ws.rename('moved/a.txt', 'from-ws.txt', { target: tmp });
      expect(readFileSync(join(tmpRoot, 'from-ws.txt'), 'utf8')).toBe('A');
      expect(await codeOf(ws.rename('to-d/sub', 'moved/link/sub'))).toBe('escape');
      expect(readdirSync(outside)).toEqual(['secret']);
    });

    it('removes files, trees and links without following them', async () => {
      await ws.remove('dir-out');
      expect(existsSync(join(root, 'dir-out'))).toBe(false);
      expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('SECRET');
      symlinkSync(outside, join(root, 'd/sub/link-out'));
      await ws.remove('d');
      expect(existsSync(join(root, 'd'))).toBe(false);
      expect(readdirSync(outside)).toEqual(['secret']);
      expect(await codeOf(ws.remove('d'))).toBe('not_found');
      expect(await codeOf(ws.remove(''))).toBe('invalid_operation');
      expect(await codeOf(ws.remove('to-d/sub'))).toBe('not_found'); // to-d now dangles
      mkdirSync(join(root, 'nonempty'));
      writeFileSync(join(root, 'nonempty/x'), 'x');
      expect(await codeOf(ws.remove('nonempty', { recursive: false }))).toBe('not_empty');
    });

    it('creates and reads symlinks (stored as given)', async () => {
      expect(await ws.symlink('a.txt', 'links/l1')).toMatchObject({
        type: 'symlink',
        symlinkTarget: 'a.txt',
      });
      expect(await ws.readlink('links/l1')).toBe('a.txt');
      expect(await codeOf(ws.symlink('x', 'links/l1'))).toBe('exists');
      expect(await codeOf(ws.readlink('a.txt'))).toBe('not_a_file');
    });

    it('opens a directory for APIs that want a path (/proc/self/fd/N)', async () => {
      const d = await ws.openDir('to-d');
      try {
        expect(readdirSync(d.procPath).sort()).toEqual(['rel-out', 'sub', 'up']);
      } finally {
        await d.close();
      }
      expect(await codeOf(ws.openDir('dir-out'))).toBe('escape');
    });
  });
});
