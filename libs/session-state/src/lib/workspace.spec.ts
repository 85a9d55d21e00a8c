import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkspaceFsError } from '@executor/workspace-fs';
import { decodeState, encodeState } from './codec';
import { WorkspaceEntryError, WorkspaceEscapeError, WorkspaceLimitError } from './errors';
import type { WorkspaceEntry } from './model';
import { captureWorkspace, diffWorkspace, restoreWorkspace, stripContent } from './workspace';
import { file, sampleState } from './test-helpers';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'ws-'));
const dirs: string[] = [];
const mk = (): string => {
  const d = tmp();
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
});

/** A workspace with text, binary, an executable, an empty dir, nested dirs and two symlinks. */
function buildWorkspace(root: string): void {
  mkdirSync(join(root, 'src/pkg'), { recursive: true });
  mkdirSync(join(root, 'empty/nested'), { recursive: true });
  writeFileSync(join(root, 'src/pkg/mod.py'), 'print("hi")\n');
  writeFileSync(join(root, 'bin.dat'), Buffer.from([0, 255, 0, 1, 2, 3]));
  writeFileSync(join(root, 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(root, 'run.sh'), 0o750);
  writeFileSync(join(root, 'big.bin'), randomBytes(200 * 1024));
  symlinkSync('src/pkg/mod.py', join(root, 'link-to-mod'));
  symlinkSync('../run.sh', join(root, 'src/up-link'));
}

function age(root: string, paths: string[]): void {
  const old = Date.now() / 1000 - 3600;
  for (const p of paths) utimesSync(join(root, p), old, old);
}

describe('captureWorkspace / restoreWorkspace', () => {
  it('round-trips bytes, modes, empty dirs, symlinks and mtimes through encodeState', async () => {
    const a = mk();
    buildWorkspace(a);
    const files = await captureWorkspace(a);
    expect(files.map((f) => `${f.type}:${f.path}`)).toEqual([
      'file:big.bin',
      'file:bin.dat',
      'dir:empty',
      'dir:empty/nested',
      'symlink:link-to-mod',
      'file:run.sh',
      'dir:src',
      'dir:src/pkg',
      'file:src/pkg/mod.py',
      'symlink:src/up-link',
    ]);
    const decoded = decodeState(encodeState(sampleState(files)));
    const b = mk();
    await restoreWorkspace(b, decoded.files);
    for (const p of ['big.bin', 'bin.dat', 'run.sh', 'src/pkg/mod.py']) {
      expect(readFileSync(join(b, p)).equals(readFileSync(join(a, p)))).toBe(true);
      expect(statSync(join(b, p)).mode & 0o7777).toBe(statSync(join(a, p)).mode & 0o7777);
      expect(Math.abs(statSync(join(b, p)).mtimeMs - statSync(join(a, p)).mtimeMs)).toBeLessThan(1);
    }
    expect(statSync(join(b, 'run.sh')).mode & 0o777).toBe(0o750);
    expect(lstatSync(join(b, 'empty/nested')).isDirectory()).toBe(true);
    expect(readlinkSync(join(b, 'link-to-mod'))).toBe('src/pkg/mod.py');
    expect(readlinkSync(join(b, 'src/up-link'))).toBe('../run.sh');
    expect(readFileSync(join(b, 'link-to-mod'), 'utf8')).toBe('print("hi")\n');
    // A capture of the restored tree equals the original one.
    const again = await captureWorkspace(b);
    expect(stripContent(again).map(({ mtimeMs: _m, racy: _r, ...e }) => e)).toEqual(
      stripContent(files).map(({ mtimeMs: _m, racy: _r, ...e }) => e),
    );
  });

  it('skips symlinks that point outside the workspace and special files, saying so', async () => {
    const a = mk();
    writeFileSync(join(a, 'ok.txt'), 'ok');
    symlinkSync('/etc/passwd', join(a, 'abs-out'));
    symlinkSync('../../outside', join(a, 'rel-out'));
    symlinkSync(join(a, 'ok.txt'), join(a, 'abs-in'));
    const skipped: string[] = [];
    const files = await captureWorkspace(a, { onSkip: (p) => skipped.push(p) });
    expect(skipped.sort()).toEqual(['abs-out', 'rel-out']);
    expect(files.find((f) => f.path === 'abs-in')?.target).toBe('ok.txt');
  });

  it('enforces maxFiles and maxBytes with clear errors', async () => {
    const a = mk();
    for (let i = 0; i < 5; i++) writeFileSync(join(a, `f${i}`), 'x'.repeat(100));
    await expect(captureWorkspace(a, { maxFiles: 3 })).rejects.toThrow(/more than 3 entries/);
    await expect(captureWorkspace(a, { maxBytes: 250 })).rejects.toThrow(WorkspaceLimitError);
    const files = await captureWorkspace(a);
    await expect(restoreWorkspace(mk(), files, { maxBytes: 499 })).rejects.toThrow(
      /more than the 499 allowed/,
    );
  });

  it('with clean, removes what is not listed (and replaces entries whose type changed)', async () => {
    const a = mk();
    writeFileSync(join(a, 'keep.txt'), 'keep');
    const files = await captureWorkspace(a);
    const b = mk();
    writeFileSync(join(b, 'stale.txt'), 'stale');
    mkdirSync(join(b, 'keep.txt')); // a dir where a file must go
    mkdirSync(join(b, 'old/deeper'), { recursive: true });
    await restoreWorkspace(b, files, { clean: true });
    expect(existsSync(join(b, 'stale.txt'))).toBe(false);
    expect(existsSync(join(b, 'old'))).toBe(false);
    expect(readFileSync(join(b, 'keep.txt'), 'utf8')).toBe('keep');
  });

  it('requires content for every file', async () => {
    const { content: _c, ...noContent } = file('a.txt', 'x');
    await expect(restoreWorkspace(mk(), [noContent])).rejects.toThrow(WorkspaceEntryError);
  });
});

describe('hostile entry lists are refused before anything is written', () => {
  const dir = (path: string): WorkspaceEntry => ({ path, type: 'dir', mode: 0o755, size: 0, mtimeMs: 1 });
  const link = (path: string, target: string): WorkspaceEntry => ({
    path,
    type: 'symlink',
    mode: 0o777,
    size: 0,
    mtimeMs: 1,
    target,
  });
  const cases: Array<[string, WorkspaceEntry[]]> = [
    ['a ".." path', [file('../evil.txt', 'x')]],
    ['a nested ".." path', [dir('a'), file('a/../../evil.txt', 'x')]],
    ['an absolute path', [file('/tmp/evil.txt', 'x')]],
    ['a non-canonical path', [file('a//b', 'x')]],
    ['a "." segment', [file('./a', 'x')]],
    ['an absolute symlink target', [link('l', '/etc')]],
    ['a symlink escaping with ..', [dir('a'), link('a/l', '../../etc')]],
    ['a path going through a symlink', [link('l', '.'), file('l/evil.txt', 'x')]],
    ['a path through a symlink that points outside', [link('l', '../outside'), file('l/x', 'x')]],
    ['a symlink chain that escapes physically', [dir('d'), link('d/up', '..'), link('esc', 'd/up/..')]],
    ['a symlink loop', [link('a', 'b'), link('b', 'a')]],
    ['a NUL byte', [file('a\0b', 'x')]],
  ];
  it.each(cases)('%s', async (_label, entries) => {
    const root = mk();
    const outside = join(root, '..');
    const before = new Set(require('node:fs').readdirSync(outside));
    await expect(restoreWorkspace(join(root, 'ws'), entries)).rejects.toThrow(WorkspaceEscapeError);
    expect(existsSync(join(root, 'ws'))).toBe(false); // validated before the root was even created
    expect(new Set(require('node:fs').readdirSync(outside))).toEqual(before);
  });

  it('never writes through a symlink already on disk (without clean)', async () => {
    const root = mk();
    const outside = mk();
    symlinkSync(outside, join(root, 'sub')); // stale link on disk, not in the list
    writeFileSync(join(outside, 'victim.txt'), 'original');
    symlinkSync(join(outside, 'victim.txt'), join(root, 'f.txt'));
    await restoreWorkspace(root, [dir('sub'), file('sub/victim.txt', 'pwned'), file('f.txt', 'pwned')]);
    expect(readFileSync(join(outside, 'victim.txt'), 'utf8')).toBe('original');
    expect(lstatSync(join(root, 'sub')).isDirectory()).toBe(true);
    expect(lstatSync(join(root, 'f.txt')).isFile()).toBe(true);
  });

  it('refuses duplicates and files under a file', async () => {
    await expect(restoreWorkspace(mk(), [file('a', 'x'), file('a', 'y')])).rejects.toThrow(/listed twice/);
    await expect(restoreWorkspace(mk(), [file('a', 'x'), file('a/b', 'y')])).rejects.toThrow(
      /parent "a" is a file/,
    );
  });
});

describe('diffWorkspace', () => {
  it('after a one-file change carries only that file, reusing stat-unchanged hashes', async () => {
    const a = mk();
    mkdirSync(join(a, 'src'));
    const names: string[] = [];
    for (let i = 0; i < 50; i++) {
      writeFileSync(join(a, `src/f${i}.py`), `value = ${i}\n`);
      names.push(`src/f${i}.py`);
    }
    age(a, names); // not "racy": the stat fast path applies
    const prev = stripContent(await captureWorkspace(a));
    writeFileSync(join(a, 'src/f7.py'), 'value = "changed"\n');
    writeFileSync(join(a, 'new.txt'), `value = 3\n`); // same content as f3: known hash, no content
    rmSync(join(a, 'src/f9.py'));
    const d = await diffWorkspace(prev, a);
    const withContent = d.files.filter((f) => f.content);
    expect(withContent.map((f) => f.path)).toEqual(['src/f7.py']);
    expect(d.changedBytes).toBe(Buffer.byteLength('value = "changed"\n'));
    expect(d.changedFiles).toBe(2); // f7 modified, new.txt added
    expect(d.removed).toEqual(['src/f9.py']);
    expect(d.files.find((f) => f.path === 'new.txt')?.hash).toBe(
      prev.find((f) => f.path === 'src/f3.py')?.hash,
    );
    expect(d.files).toHaveLength(51);
  });

  it('trusts the stat (documented fast path) but re-reads racy entries and honours fullHash', async () => {
    const a = mk();
    writeFileSync(join(a, 'x.txt'), 'aaaa');
    age(a, ['x.txt']);
    const prev = stripContent(await captureWorkspace(a));
    const st = statSync(join(a, 'x.txt'));
    writeFileSync(join(a, 'x.txt'), 'bbbb'); // same size, then mtime put back: invisible to stat
    utimesSync(join(a, 'x.txt'), st.atime, st.mtime);
    expect((await diffWorkspace(prev, a)).changedFiles).toBe(0);
    expect((await diffWorkspace(prev, a, { fullHash: true })).changedFiles).toBe(1);
    // A racy prev entry is re-read even when its stat matches.
    const racyPrev = prev.map((e) => ({ ...e, racy: true }));
    expect((await diffWorkspace(racyPrev, a)).files[0]?.content?.toString()).toBe('bbbb');
  });

  it('notices mode and symlink target changes', async () => {
    const a = mk();
    writeFileSync(join(a, 'x'), 'x');
    symlinkSync('x', join(a, 'l'));
    age(a, ['x']);
    const prev = stripContent(await captureWorkspace(a));
    chmodSync(join(a, 'x'), 0o700);
    rmSync(join(a, 'l'));
    symlinkSync('./x', join(a, 'l'));
    const d = await diffWorkspace(prev, a);
    expect(d.changedFiles).toBe(2);
    expect(d.changedBytes).toBe(0);
  });
});

describe('restore on a hostile disk (never follows what is there)', () => {
  const dir = (path: string): WorkspaceEntry => ({ path, type: 'dir', mode: 0o755, size: 0, mtimeMs: 1 });
  const link = (path: string, target: string): WorkspaceEntry => ({
    path,
    type: 'symlink',
    mode: 0o777,
    size: 0,
    mtimeMs: 1,
    target,
  });

  it('with clean: links to outside are removed as links, FIFOs replaced without blocking, owner applied', async () => {
    const root = mk();
    const outside = mk();
    writeFileSync(join(outside, 'victim.txt'), 'original');
    mkdirSync(join(outside, 'deep'));
    writeFileSync(join(outside, 'deep/v2'), 'original');
    symlinkSync(outside, join(root, 'stale-link')); // not listed: removed (the link only)
    symlinkSync(outside, join(root, 'd')); // listed as a dir: the link is replaced
    execFileSync('mkfifo', [join(root, 'f.txt')]); // listed as a file
    const owner = { uid: 43210, gid: 43211 };
    await restoreWorkspace(
      root,
      [dir('d'), file('d/victim.txt', 'restored'), file('f.txt', 'file'), link('l', 'f.txt')],
      { clean: true, owner },
    );
    expect(readFileSync(join(outside, 'victim.txt'), 'utf8')).toBe('original');
    expect(readFileSync(join(outside, 'deep/v2'), 'utf8')).toBe('original');
    expect(existsSync(join(root, 'stale-link'))).toBe(false);
    expect(lstatSync(join(root, 'd')).isDirectory()).toBe(true);
    expect(readFileSync(join(root, 'd/victim.txt'), 'utf8')).toBe('restored');
    expect(readFileSync(join(root, 'f.txt'), 'utf8')).toBe('file');
    for (const p of ['d', 'd/victim.txt', 'f.txt', 'l']) {
      const st = lstatSync(join(root, p));
      expect([p, st.uid, st.gid]).toEqual([p, owner.uid, owner.gid]);
    }
  });

  it('never writes outside while a racing process swaps a directory of the list for a link out', async () => {
    const root = mk();
    const outside = mk();
    const racer = spawn(
      'python3',
      [
        '-c',
        `import os
while True:
    try:
        os.rename("d", "d.old")
        os.symlink(${JSON.stringify(outside)}, "d")
        os.rename("d.old", "d.x")
        os.unlink("d")
        os.rename("d.x", "d")
    except OSError:
        pass`,
      ],
      { cwd: root, stdio: 'ignore' },
    );
    try {
      for (let i = 0; i < 100; i++) {
        await restoreWorkspace(root, [dir('d'), file(`d/x${i}.txt`, 'x')]).catch((err: unknown) => {
          // a restore may lose the race (its directory renamed away, or "keeps changing"): never outside
          if (err instanceof WorkspaceFsError) return;
          if (!['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
        });
      }
    } finally {
      racer.kill('SIGKILL');
    }
    expect(readdirSync(outside)).toEqual([]);
  });

  it('keeps absolute links into the workspace (as session code names it) as relative ones', async () => {
    const a = mk();
    mkdirSync(join(a, 'sub'));
    writeFileSync(join(a, 'x.txt'), 'x');
    symlinkSync('/home/user/x.txt', join(a, 'sub/home-link'));
    symlinkSync('/home/user', join(a, 'root-link'));
    symlinkSync('/home/userx/x.txt', join(a, 'not-home'));
    const skipped: string[] = [];
    const files = await captureWorkspace(a, {
      linkAliases: ['/home/user', a],
      onSkip: (p) => skipped.push(p),
    });
    expect(files.find((f) => f.path === 'sub/home-link')?.target).toBe('../x.txt');
    expect(files.find((f) => f.path === 'root-link')?.target).toBe('.');
    expect(skipped).toEqual(['not-home']);
  });
});
