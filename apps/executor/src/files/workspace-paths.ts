import { lstat, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { JobError } from '@executor/queues';

/**
 * Resolves a client path inside a workspace. Refused (invalid_argument): empty, absolute, NUL,
 * any `..` segment, and anything whose existing part resolves (through symlinks) outside the
 * workspace.
 */
export async function resolveWorkspacePath(root: string, path: string): Promise<string> {
  if (!path || path.includes('\0')) throw new JobError('invalid_argument', 'path is empty or contains NUL');
  if (isAbsolute(path) || path.startsWith('\\'))
    throw new JobError('invalid_argument', `path "${path}" must be relative to the workspace`);
  const parts = path.split(/[\\/]+/).filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..'))
    throw new JobError('invalid_argument', `path "${path}" escapes the workspace ("..")`);
  if (parts.length === 0) throw new JobError('invalid_argument', `path "${path}" names the workspace itself`);
  const realRoot = await realpath(root);
  const abs = join(realRoot, ...parts);
  // Walk from the deepest existing ancestor: its real path must stay inside the workspace.
  let probe = abs;
  for (;;) {
    const st = await lstat(probe).catch(() => undefined);
    if (st) {
      const real = await realpath(probe).catch(() => undefined);
      if (real === undefined) {
        // a dangling symlink: refuse if its target is outside (cannot prove otherwise)
        throw new JobError('invalid_argument', `path "${path}" goes through a dangling symlink`);
      }
      if (!inside(realRoot, real))
        throw new JobError('invalid_argument', `path "${path}" resolves outside the workspace`);
      break;
    }
    const parent = join(probe, '..');
    if (parent === probe || !inside(realRoot, parent)) break;
    probe = parent;
  }
  return abs;
}

function inside(root: string, p: string): boolean {
  if (p === root) return true;
  const rel = relative(root, p);
  return !!rel && !rel.startsWith('..') && !isAbsolute(rel) && !rel.startsWith(`..${sep}`);
}
