import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkspaceFsError } from './errors';
import { cleanupDirs, startRacer, tempDir } from './test-helpers';
import { WorkspaceFs } from './workspace-fs';

/**
 * A real process flips symlinks and directories between a target inside the root and one
 * outside while we read, write, list and remove: nothing may ever reach outside. Every attack
 * also checks that it really raced (both states were observed).
 */

const SAFE = 'safe-content';
const SECRET = 'SECRET-OUTSIDE';

async function tally<T>(
  n: number,
  fn: (i: number) => Promise<T>,
): Promise<{ values: T[]; codes: Record<string, number> }> {
  const values: T[] = [];
  const codes: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    try {
      values.push(await fn(i));
      codes['ok'] = (codes['ok'] ?? 0) + 1;
    } catch (err) {
      if (!(err instanceof WorkspaceFsError)) throw err;
      codes[err.code] = (codes[err.code] ?? 0) + 1;
    }
  }
  return { values, codes };
}

describe('workspace-fs under a racing process (symlink / directory swaps)', () => {
  let root: string;
  let outside: string;
  let ws: WorkspaceFs;
  let stop: (() => Promise<void>) | undefined;

  beforeEach(() => {
    root = tempDir();
    outside = tempDir('wsfs-outside-');
    writeFileSync(join(outside, 'secret'), SECRET);
    writeFileSync(join(outside, 'outside-marker'), SECRET);
    writeFileSync(join(root, 'safe.txt'), SAFE);
    mkdirSync(join(root, 'real'));
    writeFileSync(join(root, 'real/secret'), SAFE);
    ws = new WorkspaceFs({ root, aliases: [root] });
  });
  afterEach(async () => {
    await stop?.();
    stop = undefined;
  });
  afterAll(cleanupDirs);

  const flip = (link: string, a: string, b: string): string => `
for t in (${JSON.stringify(a)}, ${JSON.stringify(b)}):
    try:
        os.symlink(t, ${JSON.stringify(`${link}.tmp`)})
    except FileExistsError:
        pass
    os.replace(${JSON.stringify(`${link}.tmp`)}, ${JSON.stringify(link)})
`;

  it('reads never return a file outside while the file itself or a parent flips', async () => {
    stop = (
      await startRacer(root, flip('flip', 'safe.txt', join(outside, 'secret')) + flip('pd', 'real', outside))
    ).stop;
    for (const path of ['flip', 'pd/secret']) {
      const { values, codes } = await tally(800, () => ws.readFile(path));
      expect(values.filter((v) => v.toString() !== SAFE)).toEqual([]);
      expect(codes['ok']).toBeGreaterThan(0);
      expect(codes['escape']).toBeGreaterThan(0);
      expect(Object.keys(codes).sort()).toEqual(['escape', 'ok']);
    }
  });

  it('a deeper parent flipping between a real directory and a link out never redirects a read', async () => {
    mkdirSync(join(root, 'a/real-b/c'), { recursive: true });
    writeFileSync(join(root, 'a/real-b/c/secret'), SAFE);
    mkdirSync(join(outside, 'c'));
    writeFileSync(join(outside, 'c/secret'), SECRET);
    // a/b is a real directory renamed in and out, alternating with a symlink to the outside.
    stop = (
      await startRacer(
        root,
        `
try:
    os.unlink("a/b")
except FileNotFoundError:
    pass
os.rename("a/real-b", "a/b")
os.rename("a/b", "a/real-b")
os.symlink(${JSON.stringify(outside)}, "a/b")
`,
      )
    ).stop;
    const { values, codes } = await tally(800, () => ws.readFile('a/b/c/secret'));
    expect(values.filter((v) => v.toString() !== SAFE)).toEqual([]);
    expect(codes['ok']).toBeGreaterThan(0);
    expect(codes['escape']).toBeGreaterThan(0);
  });

  it('writes, mkdirs and removes never land outside while a parent flips', async () => {
    stop = (await startRacer(root, flip('pd', 'real', outside))).stop;
    const writes = await tally(600, (i) => ws.writeFile(`pd/new-${i}`, Buffer.from(SAFE)));
    const dirs = await tally(300, (i) => ws.mkdir(`pd/dir-${i}`));
    const removes = await tally(600, async () => {
      await ws.remove('pd/secret');
      writeFileSync(join(root, 'real/secret'), SAFE);
    });
    expect(readdirSync(outside).sort()).toEqual(['outside-marker', 'secret']);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe(SECRET);
    for (const t of [writes, removes]) {
      expect(t.codes['ok']).toBeGreaterThan(0);
      expect(t.codes['escape']).toBeGreaterThan(0);
    }
    expect(dirs.codes['ok']).toBeGreaterThan(0);
  });

  it('a recursive remove never follows a directory swapped for a link while it is emptied', async () => {
    stop = (
      await startRacer(
        root,
        `
# (only this racer makes links: after the unlink, tree/sub is a real directory or gone)
try:
    if os.path.islink("tree/sub"):
        os.unlink("tree/sub")
    os.makedirs("tree/sub", exist_ok=True)
    for i in range(10):
        open(f"tree/sub/f{i}", "w").close()
    os.rename("tree/sub", "tree/old")
    os.symlink(${JSON.stringify(outside)}, "tree/sub")
    shutil.rmtree("tree/old", ignore_errors=True)
except OSError:
    pass
`,
      )
    ).stop;
    const { codes } = await tally(300, () => ws.remove('tree'));
    expect(readdirSync(outside).sort()).toEqual(['outside-marker', 'secret']);
    expect(codes['ok']).toBeGreaterThan(0);
    for (const c of Object.keys(codes)) expect(['ok', 'not_found', 'not_empty', 'unstable']).toContain(c);
  });

  it('listings never show entries of a directory outside while a directory is swapped for a link to it', async () => {
    mkdirSync(join(root, 'sw-real'));
    writeFileSync(join(root, 'sw-real/inside-marker'), SAFE);
    stop = (
      await startRacer(
        root,
        `
try:
    os.unlink("sw")
except FileNotFoundError:
    pass
os.rename("sw-real", "sw")
for _ in range(50):
    os.lstat("sw")
os.rename("sw", "sw-real")
os.symlink(${JSON.stringify(outside)}, "sw")
for _ in range(50):
    os.lstat("sw")
`,
      )
    ).stop;
    let sawInside = 0;
    for (let i = 0; i < 400; i++) {
      const entries = await ws.list('', { depth: 3 });
      expect(entries.filter((e) => e.name === 'outside-marker' || e.path === 'sw/secret')).toEqual([]);
      if (entries.some((e) => e.path === 'sw/inside-marker')) sawInside++;
    }
    expect(sawInside).toBeGreaterThan(0);
  });

  it('a FIFO swapped in for a regular file never blocks a read', async () => {
    stop = (
      await startRacer(
        root,
        `
os.mkfifo("ff.fifo")
os.replace("ff.fifo", "ff")
with open("ff.file", "w") as f:
    f.write("regular")
os.replace("ff.file", "ff")
`,
      )
    ).stop;
    const { values, codes } = await tally(1000, () => ws.readFile('ff'));
    expect(values.filter((v) => v.toString() !== 'regular')).toEqual([]);
    expect(codes['ok']).toBeGreaterThan(0);
    expect(codes['not_a_file']).toBeGreaterThan(0);
  });
});
