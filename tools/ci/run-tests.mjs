#!/usr/bin/env node
// `npm test`: runs every test target of the workspace for real (no Nx cache: a test that was
// not executed is not counted), then prints, last, the line CI reads:
//   tests: N passed, N failed
// computed from the Jest runners' own results (tools/ci/jest-results-reporter.js).
// Exit code is non-zero when any test or any target failed.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const resultsDir = join(root, 'tmp', 'test-results');
rmSync(resultsDir, { recursive: true, force: true });

// Targets: unit/integration tests of every project, then the suites that need a real
// Kubernetes API server (test-k8s), the end-to-end suite, and the end-to-end suites on a real
// cluster (e2e-cluster: tools/kcluster, images built with buildah). Extra args go to nx.
const targets = (process.env.TEST_TARGETS ?? 'test,test-k8s,test-platform,e2e,e2e-cluster').split(',');
const extra = process.argv.slice(2);
let targetFailures = 0;
for (const target of targets) {
  const r = spawnSync(
    'npx',
    ['nx', 'run-many', '-t', target, '--skip-nx-cache', '--parallel=1', '--output-style=stream', ...extra],
    { cwd: root, stdio: 'inherit', env: { ...process.env, NX_DAEMON: 'false', FORCE_COLOR: '0' } },
  );
  if (r.status !== 0) targetFailures++;
}

let passed = 0;
let failed = 0;
let skipped = 0;
let brokenSuites = 0;
const failures = [];
const skippedTests = [];
if (existsSync(resultsDir)) {
  for (const f of readdirSync(resultsDir)) {
    const r = JSON.parse(readFileSync(join(resultsDir, f), 'utf8'));
    passed += r.passed;
    failed += r.failed;
    skipped += r.skipped;
    brokenSuites += r.runtimeErrorSuites;
    failures.push(...r.failures);
    skippedTests.push(...(r.skippedTests ?? []));
  }
}
// In CI a skipped test is a failure unless tools/ci/allowed-skips.txt lists it with a reason:
// a suite whose tool is missing must fail, never pass by skipping.
const allowed = readAllowedSkips(join(root, 'tools', 'ci', 'allowed-skips.txt'));
const unlistedSkips = skippedTests.filter(
  (t) => !allowed.some((a) => t.startsWith(`${a.file}: ${a.prefix}`)),
);
if (unlistedSkips.length) {
  console.log(
    `\nSkipped tests not listed in tools/ci/allowed-skips.txt${process.env.CI ? ' (counted as failures)' : ''}:`,
  );
  for (const t of unlistedSkips) console.log(`  - ${t}`);
  if (process.env.CI) failed += unlistedSkips.length;
}
// A suite that failed to run (syntax error, crash in beforeAll) has no failed test of its
// own: count it as one failure so it can never pass silently.
failed += brokenSuites;
if (failures.length) {
  console.log('\nFailed tests:');
  for (const f of failures) console.log(`  - ${f}`);
}
if (targetFailures && failed === 0) {
  console.log(`\n${targetFailures} target(s) failed outside Jest's results (see the output above).`);
  failed += targetFailures;
}
if (skipped) console.log(`\n${skipped} test(s) skipped`);
// The last line, alone: CI reads it.
console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || targetFailures > 0 || passed === 0 ? 1 : 0);

/** Entries `<file>: <test name prefix>  # reason` of the allowed-skips file (a reason is required). */
function readAllowedSkips(file) {
  if (!existsSync(file)) return [];
  const out = [];
  for (const [i, raw] of readFileSync(file, 'utf8').split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const hash = line.indexOf('  #');
    const reason = hash >= 0 ? line.slice(hash + 3).trim() : '';
    const entry = (hash >= 0 ? line.slice(0, hash) : line).trim();
    const colon = entry.indexOf(': ');
    if (!reason || colon < 0) {
      console.error(`${file}:${i + 1}: expected "<file>: <test name prefix>  # reason", got "${raw}"`);
      process.exit(1);
    }
    out.push({ file: entry.slice(0, colon), prefix: entry.slice(colon + 2) });
  }
  return out;
}
