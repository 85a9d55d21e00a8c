import 'reflect-metadata';
import { ConfigError } from '@executor/platform';
import { startApp } from './app/bootstrap';
import { loadPersistenceConfig } from './app/config/config';

async function main(): Promise<void> {
  let config;
  try {
    config = loadPersistenceConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`persistence: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  await startApp(config);
}

main().catch((err: Error) => {
  console.error(`persistence failed to start: ${err.stack ?? err.message}`);
  process.exit(1);
});
