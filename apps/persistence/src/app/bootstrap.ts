import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import type { PersistenceConfig } from './config/config';

/** Creates the app (not listening yet): used by main.ts and by the tests. */
export async function createApp(
  config: PersistenceConfig,
  opts: { logger?: false } = {},
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    new FastifyAdapter({ bodyLimit: 1024 * 1024 }),
    {
      ...(opts.logger === false ? { logger: false } : {}),
    },
  );
  app.enableShutdownHooks();
  return app;
}

/** Creates the app, listens, and logs the one "listening" line. */
export async function startApp(config: PersistenceConfig): Promise<NestFastifyApplication> {
  const app = await createApp(config);
  await app.listen(config.PORT, config.HOST);
  new Logger('Persistence').log(`persistence listening on http://${config.HOST}:${config.PORT}`);
  return app;
}
