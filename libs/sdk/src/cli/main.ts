#!/usr/bin/env node
/** The `executor` binary. */
import { EXIT_INTERRUPTED, runCli } from './cli.js';

const ctrl = new AbortController();
process.once('SIGINT', () => {
  ctrl.abort();
  // A second Ctrl-C leaves at once.
  process.once('SIGINT', () => process.exit(EXIT_INTERRUPTED));
});

runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
  signal: ctrl.signal,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`executor: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
