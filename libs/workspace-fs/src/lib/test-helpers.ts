// Shared by the specs of this lib only (not exported from the index).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A fresh directory, removed by {@link cleanupDirs}. */
export function tempDir(prefix = 'wsfs-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export function cleanupDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * A real process racing us: runs the python `loop` body forever in `cwd` and resolves once it
 * completed 10 rounds (it prints "ready"). Kill it with `stop()`.
 */
export async function startRacer(
  cwd: string,
  loop: string,
): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const indented = loop
    .trim()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  const script = `import os, shutil, sys\nn = 0\nwhile True:\n${indented}\n    n += 1\n    if n == 10:\n        print("ready", flush=True)\n`;
  const child = spawn('python3', ['-c', script], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`racer exited (${code}) before it was ready: ${err}`)));
  });
  return {
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
