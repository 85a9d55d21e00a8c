// Jest reporter used by every project (see jest.preset.js): writes the run's aggregated
// results to tmp/test-results/<displayName>-<pid>.json so `npm test` can print one
// `tests: N passed, N failed` line computed from what the runners really did.
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..', '..');

class ResultsFileReporter {
  constructor(globalConfig) {
    this.globalConfig = globalConfig;
  }

  onRunComplete(_contexts, results) {
    const dir = join(root, 'tmp', 'test-results');
    mkdirSync(dir, { recursive: true });
    const name = (this.globalConfig.rootDir || 'jest').split('/').slice(-2).join('-');
    const failures = [];
    const skippedTests = [];
    for (const file of results.testResults) {
      const rel = file.testFilePath.startsWith(`${root}/`)
        ? file.testFilePath.slice(root.length + 1)
        : file.testFilePath;
      for (const t of file.testResults) {
        if (t.status === 'failed')
          failures.push(`${file.testFilePath}: ${t.fullName}${firstLine(t.failureMessages)}`);
        // Jest calls skipped tests "pending" (it.skip / describe.skip) and "todo" (it.todo).
        if (t.status === 'pending' || t.status === 'todo' || t.status === 'skipped')
          skippedTests.push(`${rel}: ${t.fullName}`);
      }
      if (file.testExecError) failures.push(`${file.testFilePath}: ${file.testExecError.message}`);
    }
    writeFileSync(
      join(dir, `${name}-${process.pid}.json`),
      JSON.stringify(
        {
          rootDir: this.globalConfig.rootDir,
          passed: results.numPassedTests,
          failed: results.numFailedTests,
          skipped: results.numPendingTests + results.numTodoTests,
          failedSuites: results.numFailedTestSuites,
          runtimeErrorSuites: results.numRuntimeErrorTestSuites,
          failures,
          skippedTests,
        },
        null,
        2,
      ),
    );
  }
}

/** ` — <first line of the first failure message>` (ANSI codes stripped, at most 300 characters), so
 * the summary at the end of `npm test` carries the reason, not only the test's name. */
function firstLine(messages) {
  const text = (messages ?? []).join('\n').replace(/\u001b\[[0-9;]*m/g, '');
  const line = text.split('\n').find((l) => l.trim()) ?? '';
  return line ? ` — ${line.trim().slice(0, 300)}` : '';
}

module.exports = ResultsFileReporter;
