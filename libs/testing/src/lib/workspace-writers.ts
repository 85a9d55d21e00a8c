import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, watch } from 'node:fs';
import { join } from 'node:path';

/**
 * Background writers that change a workspace the way real programs do (training loops that
 * checkpoint by atomic rename, log appenders, programs that truncate and rewrite, in-place
 * same-size updates, directory churn, symlink replacement, deletes), writing SELF-DESCRIBING
 * versions: every content names its key and version number and can be regenerated from them, so
 * a snapshot can be checked file by file ("does this file hold exactly one version that was
 * written?"). Used by the capture race tests of session-state and the executor.
 *
 * Run `python3 - <dir> [pause_seconds]` with {@link WORKSPACE_WRITERS_PY} on stdin, or save it
 * into the workspace and start it there. It writes `writers.running` once every writer has done
 * a round, and stops when `writers.stop` appears.
 */
export const WORKSPACE_WRITERS_PY = String.raw`
import hashlib, os, shutil, sys, threading, time

root = sys.argv[1] if len(sys.argv) > 1 else "."
pause = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0005
os.chdir(root)

def content(key, n):
    body = hashlib.sha256(f"{key}:{n}".encode()).hexdigest() * (1 + n % 20)
    return f"{key}|{n}|{body}|end\n".encode()

def inplace(n):
    head = f"inplace|{n:010d}|".encode()
    body = (hashlib.sha256(f"inplace:{n}".encode()).hexdigest().encode() * 16)[: 512 - len(head) - 1]
    return head + body + b"\n"

def put_new(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)

stop = threading.Event()
rounds = {}

def loop(name, body):
    n = 0
    while not stop.is_set():
        try:
            body(n)
        except OSError:
            pass
        n += 1
        rounds[name] = n
        if pause:
            time.sleep(pause)

def ckpt(n):  # write a temporary file, then atomically replace the checkpoint
    put_new(f"ckpt-{n}.tmp", content("ckpt", n))
    os.replace(f"ckpt-{n}.tmp", "ckpt.txt")

def deletes(n):
    put_new(f"del-{n}.txt", content("del", n))
    if n >= 3:
        os.unlink(f"del-{n - 3}.txt")

def trunc(n):  # truncate in place, then one write: "" or a full version
    if not os.path.exists("trunc.txt"):
        put_new("trunc.txt", b"")
    os.truncate("trunc.txt", 0)
    fd = os.open("trunc.txt", os.O_WRONLY)
    try:
        os.pwrite(fd, content("trunc", n), 0)
    finally:
        os.close(fd)

def same_size(n):  # in-place rewrite, same size: invisible to size, and to mtime within a tick
    if not os.path.exists("inplace.txt"):
        put_new("inplace.txt", inplace(0))
    fd = os.open("inplace.txt", os.O_WRONLY)
    try:
        os.pwrite(fd, inplace(n), 0)
    finally:
        os.close(fd)

def appends(n):  # one write per complete line
    fd = os.open("log.txt", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, f"log|{n}|{hashlib.sha256(str(n).encode()).hexdigest()}\n".encode())
    finally:
        os.close(fd)
    if n % 500 == 499:
        os.replace("log.txt", f"log-old.txt")

def churn(n):  # directories created, filled, renamed, removed
    d = f"churn/d{n}"
    os.makedirs(d)
    for i in range(3):
        put_new(f"{d}/f{i}", content("churn", n))
    os.rename(d, f"churn/r{n}")
    if n >= 2:
        shutil.rmtree(f"churn/r{n - 2}")

TARGETS = ["ckpt.txt", "trunc.txt", "/etc/hostname", "../outside", "churn", "/etc/shadow"]

def links(n):  # a symlink replaced atomically, sometimes pointing out of the workspace
    try:
        os.unlink("link.tmp")
    except FileNotFoundError:
        pass
    os.symlink(TARGETS[n % len(TARGETS)], "link.tmp")
    os.replace("link.tmp", "link")

bodies = {"ckpt": ckpt, "deletes": deletes, "trunc": trunc, "inplace": same_size, "appends": appends,
          "churn": churn, "links": links}
os.makedirs("churn", exist_ok=True)
threads = [threading.Thread(target=loop, args=(k, v), daemon=True) for k, v in bodies.items()]
for t in threads:
    t.start()
while len(rounds) < len(bodies) or min(rounds.values()) < 3:
    time.sleep(0.001)
open("writers.running", "w").close()
while not os.path.exists("writers.stop"):
    time.sleep(0.01)
stop.set()
for t in threads:
    t.join()
open("writers.stopped", "w").close()
`;

/** The content version `n` of `key` (same as the python writers). */
export function versionContent(key: string, n: number): Buffer {
  const body = createHash('sha256')
    .update(`${key}:${n}`)
    .digest('hex')
    .repeat(1 + (n % 20));
  return Buffer.from(`${key}|${n}|${body}|end\n`);
}

function inplaceContent(n: number): Buffer {
  const head = Buffer.from(`inplace|${String(n).padStart(10, '0')}|`);
  const body = Buffer.from(createHash('sha256').update(`inplace:${n}`).digest('hex').repeat(16)).subarray(
    0,
    512 - head.length - 1,
  );
  return Buffer.concat([head, body, Buffer.from('\n')]);
}

/** Symlink targets the writers use that stay inside the workspace. */
export const WRITER_INSIDE_LINK_TARGETS = ['ckpt.txt', 'trunc.txt', 'churn'];

/** Files of the writers' own bookkeeping (not versions). */
const CONTROL = new Set(['writers.running', 'writers.stop', 'writers.stopped']);

function isVersion(content: Buffer, key: string, n?: number): boolean {
  const m = /^([a-z]+)\|(\d+)\|/.exec(content.subarray(0, 40).toString('latin1'));
  if (!m || m[1] !== key) return false;
  const v = Number(m[2]);
  if (n !== undefined && v !== n) return false;
  return content.equals(versionContent(key, v));
}

/**
 * Checks one captured/restored entry written by {@link WORKSPACE_WRITERS_PY}: undefined when it
 * holds exactly one version that was written (or a state the writer passes through: the empty
 * file between truncate and write), else what is wrong. Entries the writers do not make are
 * not judged (undefined).
 */
export function checkWrittenEntry(e: {
  path: string;
  type: string;
  content?: Buffer;
  target?: string;
}): string | undefined {
  const bad = (why: string): string => `${e.path}: ${why}`;
  if (CONTROL.has(e.path)) return undefined;
  if (e.type === 'symlink') {
    if (e.path !== 'link' && e.path !== 'link.tmp') return undefined;
    return WRITER_INSIDE_LINK_TARGETS.includes(e.target ?? '')
      ? undefined
      : bad(`symlink target ${JSON.stringify(e.target)} is not one the writers made inside`);
  }
  if (e.type !== 'file') return undefined;
  const c = e.content;
  if (!c) return bad('no content');
  const tmp = /^ckpt-(\d+)\.tmp$/.exec(e.path);
  if (tmp)
    return c.length === 0 || isVersion(c, 'ckpt', Number(tmp[1]))
      ? undefined
      : bad('torn checkpoint temp file');
  const del = /^del-(\d+)\.txt$/.exec(e.path);
  if (del) return c.length === 0 || isVersion(c, 'del', Number(del[1])) ? undefined : bad('torn file');
  const ch = /^churn\/[dr](\d+)\/f\d$/.exec(e.path);
  if (ch) return c.length === 0 || isVersion(c, 'churn', Number(ch[1])) ? undefined : bad('torn churn file');
  switch (e.path) {
    case 'ckpt.txt':
      return isVersion(c, 'ckpt') ? undefined : bad('not one checkpoint version');
    case 'trunc.txt':
      return c.length === 0 || isVersion(c, 'trunc') ? undefined : bad('not empty and not one version');
    case 'inplace.txt': {
      const m = /^inplace\|(\d{10})\|/.exec(c.subarray(0, 20).toString('latin1'));
      return m && c.equals(inplaceContent(Number(m[1]))) ? undefined : bad('torn in-place rewrite');
    }
    case 'log.txt':
    case 'log-old.txt': {
      const lines = c.toString('latin1').split('\n');
      if (lines.pop() !== '') return bad('ends in a partial line');
      for (const l of lines) {
        const m = /^log\|(\d+)\|([0-9a-f]{64})$/.exec(l);
        if (
          !m ||
          createHash('sha256')
            .update(m[1] as string)
            .digest('hex') !== m[2]
        )
          return bad(`bad line ${JSON.stringify(l)}`);
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Resolves once `dir/name` exists (fs.watch on the directory: an event, not polling); rejects
 * when `child` exits first.
 */
export function waitForFile(dir: string, name: string, child?: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dir, () => {
      if (existsSync(join(dir, name))) done();
    });
    const onExit = (code: number | null): void => {
      watcher.close();
      reject(new Error(`process exited (${code}) before ${name} appeared in ${dir}`));
    };
    const done = (): void => {
      watcher.close();
      child?.off('exit', onExit);
      resolve();
    };
    child?.once('exit', onExit);
    if (existsSync(join(dir, name))) done();
  });
}
