import 'reflect-metadata';
import { ConfigError, describeConfig } from '@executor/platform';
import { OperatorConfigSchema, loadOperatorConfig } from './config/operator-config';
import { startOperator } from './app/bootstrap';

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    process.stdout.write(
      `operator: reconciles ExecutorPools and ExecutorSessions\n\n${describeConfig(OperatorConfigSchema)}\n`,
    );
    return;
  }
  let config;
  try {
    config = loadOperatorConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`operator: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const app = await startOperator(config);
  process.stdout.write(`operator listening on ${await app.getUrl()}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `operator failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
