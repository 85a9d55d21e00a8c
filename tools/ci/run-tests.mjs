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
if (existsSync(resultsDir)) {
  for (const f of readdirSync(resultsDir)) {
    const r = JSON.parse(readFileSync(join(resultsDir, f), 'utf8'));
    passed += r.passed;
    failed += r.failed;
    skipped += r.skipped;
    brokenSuites += r.runtimeErrorSuites;
    failures.push(...r.failures);
  }
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
console.log(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || targetFailures > 0 || passed === 0 ? 1 : 0);
