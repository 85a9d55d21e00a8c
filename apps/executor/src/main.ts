import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, describeConfig } from '@executor/platform';
import { startExecutor } from './executor';
import { ExecutorConfigSchema, loadExecutorConfig, type ExecutorConfig } from './config/executor.config';
import { ShutdownService } from './shutdown/shutdown.service';

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    process.stdout.write(`executor: environment variables\n\n${describeConfig(ExecutorConfigSchema)}\n`);
    return;
  }
  const logger = new Logger('Executor');
  let cfg: ExecutorConfig;
  try {
    cfg = loadExecutorConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n\nRun with --help for the list of variables.\n`);
      process.exit(78);
    }
    throw err;
  }
  const app = await startExecutor(cfg);
  logger.log(`executor ${cfg.POD_NAME} ready (pool ${cfg.POOL_NAME}, template ${cfg.TEMPLATE})`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: draining`);
    app
      .get(ShutdownService)
      .drain()
      .then(() => app.close())
      .then(() => process.exit(0))
      .catch((err: Error) => {
        logger.error(`shutdown failed: ${err.message}`);
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: Error) => {
  process.stderr.write(`executor failed to start: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
