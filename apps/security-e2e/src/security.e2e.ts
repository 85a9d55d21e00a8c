// The adversarial suite of issue 13: every attack on invariants 1–7, against the platform exactly
// as `npm start` starts it by default (local mode), or against any deployment given by
// SECURITY_E2E_BASE_URL + keys (remote mode: the attacks that need this machine's host are left
// out). Each attack proves it ran; the table of outcomes is printed at the end.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_ATTACKS } from './attacks';
import { neighbourReport } from './attacks/limits';
import { INVARIANTS } from './attacks/types';
import { AttackContext } from './driver/context';
import { startLocalPlatform, ROOT, type LocalPlatform } from './driver/local-platform';
import { Breach } from './driver/probe';
import { classify, renderTable, writeResults, type AttackResult } from './driver/report';
import { remoteTargetFromEnv } from './driver/target';

const remote = process.env['SECURITY_E2E_MODE'] === 'remote' || !!process.env['SECURITY_E2E_BASE_URL'];
const attacks = ALL_ATTACKS.filter((a) => !remote || !a.local);
const results: AttackResult[] = [];
const progressDir = join(ROOT, 'tmp', 'security-e2e');
const progress = join(progressDir, 'progress.log');

/** One line per attack as it ends (Jest shows console output only when the file ends). */
function note(r: AttackResult): void {
  appendFileSync(
    progress,
    `${new Date().toISOString()} ${r.outcome.padEnd(9)} ${r.name} (${r.ms} ms): ${r.detail.replace(/\s+/g, ' ').slice(0, 300)}\n`,
  );
}

describe(`security: issue 13 invariants (${remote ? 'remote' : 'npm start defaults'})`, () => {
  let platform: LocalPlatform | undefined;
  let ctx: AttackContext;

  beforeAll(async () => {
    mkdirSync(progressDir, { recursive: true });
    writeFileSync(progress, '');
    if (remote) {
      ctx = new AttackContext(remoteTargetFromEnv());
    } else {
      platform = await startLocalPlatform();
      ctx = new AttackContext(platform.target);
    }
  }, 300_000);

  afterAll(async () => {
    await ctx?.cleanup().catch(() => undefined);
    await platform?.stop();
    if (!results.length) return;
    const table = renderTable(results);
    const n = neighbourReport
      .map(
        (r) =>
          `  ${r.bomb.padEnd(14)} n=${r.n} p50=${r.p50.toFixed(0)}ms p99=${r.p99.toFixed(0)}ms max=${r.max.toFixed(0)}ms errors=${r.errors}`,
      )
      .join('\n');
    const file = writeResults(ROOT, results, {
      mode: remote ? 'remote' : 'local',
      neighbour: neighbourReport,
    });
    process.stdout.write(
      `\n${table}\n\nneighbour print(1) latency during each bomb:\n${n || '  (none measured)'}\n\nresults: ${file}\n`,
    );
  }, 180_000);

  for (const a of attacks) {
    it(
      `${a.name} (invariant ${a.invariant}: ${INVARIANTS[a.invariant]})`,
      async () => {
        const t0 = Date.now();
        try {
          const detail = await a.run(ctx);
          const changed = ctx.restoreCanaries();
          if (changed.length)
            throw new Breach(`host canaries changed during the attack: ${changed.join(', ')}`);
          results.push({
            name: a.name,
            invariant: a.invariant,
            outcome: 'contained',
            detail,
            ms: Date.now() - t0,
          });
          note(results[results.length - 1] as AttackResult);
        } catch (err) {
          ctx.restoreCanaries();
          const c = classify(err);
          results.push({ name: a.name, invariant: a.invariant, ...c, ms: Date.now() - t0 });
          note(results[results.length - 1] as AttackResult);
          throw new Error(`${c.outcome}: ${c.detail}`);
        }
      },
      a.timeoutMs ?? 120_000,
    );
  }
});
