import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JobCallError } from '@executor/queues';
import { PodDriver, startHarness, type Harness } from './harness';

/**
 * Session code races the executor: it flips a symlink (or a whole directory) between a safe
 * target inside the workspace and a file or directory outside while the file API reads, writes
 * and deletes, and while snapshots capture. Nothing the executor does may ever leave the
 * workspace. Each attack first proves it ran (both states were observed).
 */

const HOSTNAME = readFileSync('/etc/hostname');
const SHADOW = readFileSync('/etc/shadow');
const SAFE = 'SAFE-CONTENT-of-the-workspace';

/** Starts `script` as a background process of the session and waits until it says it runs. */
async function startFlipper(pod: PodDriver, id: string, name: string, script: string): Promise<void> {
  await pod.put(id, `${name}.py`, script);
  const r = await pod.exec(
    id,
    [
      'import subprocess, sys, os, time',
      `subprocess.Popen([sys.executable, ${JSON.stringify(`${name}.py`)}], start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(${JSON.stringify(`${name}.err`)}, "w"))`,
      `while not os.path.exists(${JSON.stringify(`${name}.running`)}): time.sleep(0.001)`,
      'print("started")',
    ].join('\n'),
    20_000,
  );
  expect(r.stdout).toBe('started\n');
}

/** A flipper loop body: `link` alternates between `a` and `b` (atomic replace of the symlink). */
function linkFlipper(link: string, a: string, b: string): string {
  return `
import os
n = 0
while True:
    for t in (${JSON.stringify(a)}, ${JSON.stringify(b)}):
        try:
            os.symlink(t, ${JSON.stringify(`${link}.flip`)})
        except FileExistsError:
            pass
        os.replace(${JSON.stringify(`${link}.flip`)}, ${JSON.stringify(link)})
    n += 1
    if n == 10:
        open(${JSON.stringify(`${link}-flipper.running`)}, "w").close()
`;
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof JobCallError) return err.code;
    throw err;
  }
}

describe('file API and snapshots while session code flips symlinks and directories (TOCTOU attacks)', () => {
  let h: Harness;
  let pod: PodDriver;
  const decoys: string[] = [];
  /** A directory outside every workspace (with a canary), named by host path in the session's links. */
  const newDecoy = (): string => {
    const d = mkdtempSync('/tmp/wsfs-decoy-');
    writeFileSync(join(d, 'canary.txt'), 'CANARY');
    decoys.push(d);
    return d;
  };

  beforeAll(async () => {
    h = await startHarness();
    pod = await PodDriver.start(h, 'python', { MAX_FILE_BYTES: String(1024 * 1024), WARM_KERNELS: '0' });
  });
  afterAll(async () => {
    await pod?.stop();
    await h?.stop();
    for (const d of decoys) rmSync(d, { recursive: true, force: true });
  });

  it('a read never returns a file outside the workspace while a symlink or a parent directory flips to /etc', async () => {
    const { id } = await pod.open();
    await pod.put(id, 'safe.txt', SAFE);
    await pod.put(id, 'real/hostname', SAFE);
    await startFlipper(pod, id, 'flip-flipper', linkFlipper('flip', 'safe.txt', '/etc/hostname'));
    await startFlipper(pod, id, 'pdir-flipper', linkFlipper('pdir', 'real', '/etc'));
    const tally: Record<string, number> = {};
    let leaked = 0;
    for (let i = 0; i < 300; i++) {
      for (const path of ['flip', 'pdir/hostname']) {
        try {
          const bytes = await pod.get(id, path);
          if (bytes.equals(HOSTNAME) || !bytes.equals(Buffer.from(SAFE))) leaked++;
          tally['safe'] = (tally['safe'] ?? 0) + 1;
        } catch (err) {
          if (!(err instanceof JobCallError)) throw err;
          tally[err.code] = (tally[err.code] ?? 0) + 1;
        }
      }
    }
    expect(leaked).toBe(0);
    // Both states were seen: the attack ran. Refusals are invalid_argument, never 500.
    expect(tally['safe']).toBeGreaterThan(0);
    expect(tally['invalid_argument']).toBeGreaterThan(0);
    expect(Object.keys(tally).sort()).toEqual(['invalid_argument', 'safe']);
    await pod.close(id);
  }, 120_000);

  it('writes and deletes never land outside while a parent directory flips to an outside directory', async () => {
    const { id } = await pod.open();
    const decoy = newDecoy();
    await pod.put(id, 'real/canary.txt', 'inside');
    await startFlipper(pod, id, 'wdir-flipper', linkFlipper('wdir', 'real', decoy));
    const tally: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      const w = await outcome(pod.put(id, `wdir/new-${i}.txt`, SAFE));
      tally[`put:${w}`] = (tally[`put:${w}`] ?? 0) + 1;
      const d = await outcome(pod.del(id, 'wdir/canary.txt'));
      tally[`del:${d}`] = (tally[`del:${d}`] ?? 0) + 1;
      if (d === 'ok') await pod.put(id, 'real/canary.txt', 'inside');
    }
    expect(readdirSync(decoy)).toEqual(['canary.txt']);
    expect(readFileSync(join(decoy, 'canary.txt'), 'utf8')).toBe('CANARY');
    expect(tally['put:ok']).toBeGreaterThan(0);
    expect(tally['put:invalid_argument']).toBeGreaterThan(0);
    expect(tally['del:ok']).toBeGreaterThan(0);
    expect(tally['del:invalid_argument']).toBeGreaterThan(0);
    for (const k of Object.keys(tally)) expect(k).toMatch(/^(put|del):(ok|invalid_argument|not_found)$/);
    await pod.close(id);
  }, 120_000);

  it('a recursive delete never follows a directory that is swapped for a symlink while it is emptied', async () => {
    const { id } = await pod.open();
    const decoy = newDecoy();
    const script = `
import os, shutil
n = 0
while True:
    # (only this script makes links: after the unlink, tree/sub is a real directory or gone)
    try:
        if os.path.islink("tree/sub"):
            os.unlink("tree/sub")
        os.makedirs("tree/sub", exist_ok=True)
        for i in range(20):
            open(f"tree/sub/f{i}", "w").close()
        os.rename("tree/sub", "tree/old")
        os.symlink(${JSON.stringify(decoy)}, "tree/sub")
        shutil.rmtree("tree/old", ignore_errors=True)
    except OSError:
        pass
    n += 1
    if n == 10:
        open("tree-flipper.running", "w").close()
`;
    await startFlipper(pod, id, 'tree-flipper', script);
    const tally: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const d = await outcome(pod.del(id, 'tree'));
      tally[d] = (tally[d] ?? 0) + 1;
    }
    expect(readdirSync(decoy)).toEqual(['canary.txt']);
    expect(tally['ok']).toBeGreaterThan(0);
    for (const k of Object.keys(tally)) expect(k).toMatch(/^(ok|not_found|conflict)$/);
    await pod.close(id);
  }, 120_000);

  it('snapshots never capture files from outside while a directory is swapped for a symlink to /etc', async () => {
    const { id } = await pod.open({ persist: true });
    const script = `
import os, shutil
n = 0
while True:
    try:
        os.unlink("cap")
    except FileNotFoundError:
        pass
    os.makedirs("cap.new", exist_ok=True)
    for f in ("shadow", "hostname", "passwd"):
        with open(f"cap.new/{f}", "w") as fh:
            fh.write(${JSON.stringify(SAFE)})
    os.rename("cap.new", "cap")
    for _ in range(300):  # stay a directory for a moment, so that captures meet it as one
        os.lstat("cap")
    os.rename("cap", "cap.old")
    os.symlink("/etc", "cap")
    shutil.rmtree("cap.old")
    for _ in range(300):
        os.lstat("cap")
    n += 1
    if n == 10:
        open("cap-flipper.running", "w").close()
`;
    await startFlipper(pod, id, 'cap-flipper', script);
    await startFlipper(pod, id, 'sh-flipper', linkFlipper('sh', 'safe.txt', '/etc/shadow'));
    const results: string[] = [];
    for (let i = 0; i < 60; i++) results.push(await outcome(pod.persist(id)));
    expect(results.filter((r) => r !== 'ok')).toEqual([]);
    let capDirs = 0;
    for (const snap of h.persistence.stored.get(id) ?? []) {
      for (const f of snap.state.files) {
        if (f.type === 'file') {
          const c = f.content as Buffer;
          expect(c.equals(SHADOW) || c.equals(HOSTNAME)).toBe(false);
          if (f.path.startsWith('cap/')) expect(c.toString()).toBe(SAFE);
        }
        if (f.path === 'cap' && f.type === 'dir') capDirs++;
        if (f.type === 'symlink') expect(f.target?.startsWith('/')).toBe(false);
      }
    }
    // Some snapshots met the directory (the attack ran); its symlink form points outside (left out).
    expect(capDirs).toBeGreaterThan(0);
    await pod.close(id);
  }, 180_000);

  it('a FIFO, a device node and a huge sparse file never hang or break reads and snapshots', async () => {
    const { id } = await pod.open({ persist: true });
    const work = await pod.hostWorkspace(id);
    await pod.exec(id, 'import os\nos.mkfifo("pipe")\nopen("small.txt", "w").write("x")');
    execFileSync('mknod', [join(work, 'null-dev'), 'c', '1', '3']);
    execFileSync('truncate', ['-s', '100G', join(work, 'sparse.bin')]);
    // A FIFO swapped in for a regular file in a loop: capture must never open one and block.
    const script = `
import os
n = 0
while True:
    os.mkfifo("ff.fifo")
    os.replace("ff.fifo", "ff")
    with open("ff.file", "w") as f:
        f.write("regular")
    os.replace("ff.file", "ff")
    n += 1
    if n == 10:
        open("ff-flipper.running", "w").close()
`;
    await startFlipper(pod, id, 'ff-flipper', script);
    expect(await outcome(pod.get(id, 'pipe'))).toBe('invalid_argument');
    expect(await outcome(pod.get(id, 'null-dev'))).toBe('invalid_argument');
    expect(await outcome(pod.get(id, 'sparse.bin'))).toBe('payload_too_large');
    for (let i = 0; i < 20; i++) expect(await outcome(pod.persist(id))).toBe('ok');
    const files = h.persistence.latest(id)?.state.files ?? [];
    const paths = files.map((f) => f.path);
    expect(paths).toContain('small.txt');
    expect(paths).not.toContain('pipe');
    expect(paths).not.toContain('null-dev');
    expect(paths).not.toContain('sparse.bin');
    const items = (await pod.list(id)).map((i) => i.path);
    expect(items).toContain('small.txt');
    expect(items).not.toContain('pipe');
    expect(existsSync(join(work, 'pipe'))).toBe(true);
    await pod.close(id);
  }, 180_000);
});
