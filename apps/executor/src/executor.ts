import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { AppModule } from './app.module';
import type { ExecutorConfig } from './config/executor.config';

/** Boots the executor; resolves with the app once it listens and its worker runs. */
export async function startExecutor(
  cfg: ExecutorConfig,
  logger: Array<'log' | 'warn' | 'error'> = ['log', 'warn', 'error'],
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(cfg), new FastifyAdapter(), {
    logger,
  });
  await app.listen(cfg.PORT, cfg.HOST);
  return app;
}
