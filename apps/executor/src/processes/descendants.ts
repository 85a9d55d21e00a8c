import { readFileSync } from 'node:fs';

/** Direct children of a process (from /proc; empty when it is gone). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Every descendant of a process, parents before children. */
export function descendantsOf(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  const seen = new Set<number>([pid]);
  while (queue.length) {
    for (const c of childrenOf(queue.shift() as number)) {
      if (seen.has(c)) continue;
      seen.add(c);
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/**
 * SIGKILLs one process tree: the process group of `leader` and every descendant (also those that
 * left the group with setsid). Unlike a sweep of the slot's cgroup it spares the session's other
 * kernels (contexts) and commands, which live in the same cgroup. Orphans re-parented away from
 * the tree die with the sandbox's pid namespace (bwrap) or at the slot's release.
 */
export function killProcessTree(leader: number): void {
  const all = descendantsOf(leader);
  for (const target of [-leader, ...all]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
