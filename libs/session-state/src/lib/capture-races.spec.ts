import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WORKSPACE_WRITERS_PY, checkWrittenEntry, waitForFile } from '@executor/testing';
import { decodeState, encodeState } from './codec';
import type { WorkspaceEntry } from './model';
import { captureWorkspace, diffWorkspace, restoreWorkspace, stripContent } from './workspace';
import { sampleState } from './test-helpers';

/**
 * Capture while real writers change the workspace under it (atomic renames, deletes,
 * truncations, same-size in-place rewrites, appends, directory churn, symlink replacement):
 * never an error, and every captured file is exactly one version that was written.
 */
describe('capture and diff while background writers change the workspace', () => {
  let ws: string;
  let writers: ChildProcess;
  const dirs: string[] = [];

  beforeAll(async () => {
    const base = mkdtempSync(join(tmpdir(), 'cap-race-'));
    dirs.push(base);
    ws = join(base, 'work');
    mkdirSync(ws);
    mkdirSync(join(base, 'outside'));
    writeFileSync(join(base, 'outside/secret'), 'SECRET');
    writers = spawn('python3', ['-', ws, '0.0002'], { stdio: ['pipe', 'ignore', 'inherit'] });
    writers.stdin?.end(WORKSPACE_WRITERS_PY);
    await waitForFile(ws, 'writers.running', writers);
  });
  afterAll(async () => {
    writeFileSync(join(ws, 'writers.stop'), '');
    await new Promise<void>((resolve) => {
      if (writers.exitCode !== null) return resolve();
      writers.once('exit', () => resolve());
    });
    expect(writers.exitCode).toBe(0); // stopped by writers.stop, not crashed
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('300 incremental snapshots: 0 errors, every file one written version; restoring the last gives them back', async () => {
    let prev: WorkspaceEntry[] = [];
    const contentByHash = new Map<string, Buffer>();
    const problems: string[] = [];
    let last: WorkspaceEntry[] = [];
    let seenLinks = 0;
    let carried = 0;
    for (let i = 0; i < 300; i++) {
      const diff = await diffWorkspace(prev, ws, { linkAliases: [ws] });
      for (const f of diff.files) {
        if (f.type === 'file' && f.content) {
          contentByHash.set(f.hash as string, f.content);
          carried++;
        }
      }
      // The full state this delta stands for, as the store would rebuild it.
      last = diff.files.map((f) =>
        f.type === 'file' ? { ...f, content: contentByHash.get(f.hash as string) as Buffer } : f,
      );
      for (const f of last) {
        if (f.type === 'file' && !f.content) problems.push(`${f.path}: hash with no content`);
        const p = checkWrittenEntry(f);
        if (p) problems.push(`snapshot ${i}: ${p}`);
        if (f.path === 'link') seenLinks++;
      }
      prev = stripContent(diff.files);
    }
    expect(problems).toEqual([]);
    expect(carried).toBeGreaterThan(300); // the writers really changed things between snapshots
    expect(seenLinks).toBeGreaterThan(0);
    // Restore the last one elsewhere: exactly the captured versions come back.
    const target = mkdtempSync(join(tmpdir(), 'cap-restore-'));
    dirs.push(target);
    const decoded = decodeState(encodeState(sampleState(last)));
    await restoreWorkspace(target, decoded.files);
    const again = await captureWorkspace(target);
    expect(again.map((e) => [e.path, e.type, e.hash ?? e.target])).toEqual(
      last.map((e) => [e.path, e.type, e.hash ?? e.target]),
    );
    for (const e of again) expect(checkWrittenEntry(e)).toBeUndefined();
  }, 300_000);

  it('full captures never fail either, and never hold anything from outside', async () => {
    for (let i = 0; i < 50; i++) {
      const files = await captureWorkspace(ws);
      for (const f of files) {
        expect(checkWrittenEntry(f)).toBeUndefined();
        if (f.type === 'file') expect(f.content?.toString()).not.toBe('SECRET');
      }
    }
    expect(existsSync(join(ws, 'writers.running'))).toBe(true);
    expect(readFileSync(join(ws, 'ckpt.txt')).length).toBeGreaterThan(0);
  }, 300_000);
});
