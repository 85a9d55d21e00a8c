import 'reflect-metadata';
import { ConfigError, describeConfig } from '@executor/platform';
import { LbConfigSchema, loadLbConfig } from './app/config/config';
import { startApp } from './app/bootstrap';

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    process.stdout.write(
      `load-balancer: the public HTTP API of the executor platform\n\n${describeConfig(LbConfigSchema)}\n`,
    );
    return;
  }
  let config;
  try {
    config = loadLbConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`load-balancer: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  await startApp(config);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `load-balancer failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
