import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Breach, InvalidProbe } from './probe';

export type Outcome = 'contained' | 'BREACH' | 'INVALID' | 'ERROR';

export interface AttackResult {
  name: string;
  invariant: number;
  outcome: Outcome;
  detail: string;
  ms: number;
}

export function classify(err: unknown): { outcome: Outcome; detail: string } {
  if (err instanceof Breach) return { outcome: 'BREACH', detail: err.message };
  if (err instanceof InvalidProbe) return { outcome: 'INVALID', detail: err.message };
  return { outcome: 'ERROR', detail: err instanceof Error ? err.message : String(err) };
}

/** The table printed at the end of a run (and written to tmp/security-e2e/results.json). */
export function renderTable(results: AttackResult[]): string {
  const w = Math.max(...results.map((r) => r.name.length), 6);
  const lines = [
    `${'attack'.padEnd(w)}  inv  ${'outcome'.padEnd(9)}  detail`,
    `${'-'.repeat(w)}  ---  ${'-'.repeat(9)}  ${'-'.repeat(40)}`,
    ...results.map(
      (r) =>
        `${r.name.padEnd(w)}  ${String(r.invariant).padEnd(3)}  ${r.outcome.padEnd(9)}  ${r.detail.replace(/\s+/g, ' ').slice(0, 160)}`,
    ),
  ];
  const counts = results.reduce<Record<string, number>>(
    (m, r) => ((m[r.outcome] = (m[r.outcome] ?? 0) + 1), m),
    {},
  );
  lines.push(
    '',
    `attacks: ${results.length}; ${Object.entries(counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
  return lines.join('\n');
}

export function writeResults(root: string, results: AttackResult[], extra: Record<string, unknown>): string {
  const dir = join(root, 'tmp', 'security-e2e');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'results.json');
  writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), ...extra, results }, null, 2));
  return file;
}
