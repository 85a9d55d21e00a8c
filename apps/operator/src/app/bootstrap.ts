import type { LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OperatorConfig } from '../config/operator-config';
import type { KubeClient } from '../kube/kube-client';
import { AppModule } from './app.module';

const LEVELS: LogLevel[] = ['error', 'warn', 'log', 'debug', 'verbose'];

/** Builds the operator app (not listening yet). `client` replaces the kubeconfig-based client (tests). */
export async function createOperatorApp(
  cfg: OperatorConfig,
  opts: { client?: KubeClient; logger?: false } = {},
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(cfg, { client: opts.client }),
    new FastifyAdapter({ logger: false }),
    { logger: opts.logger === false ? false : LEVELS.slice(0, LEVELS.indexOf(cfg.LOG_LEVEL) + 1) },
  );
  app.enableShutdownHooks();
  return app;
}

/** Builds and listens on HOST:PORT. */
export async function startOperator(cfg: OperatorConfig): Promise<NestFastifyApplication> {
  const app = await createOperatorApp(cfg);
  await app.listen(cfg.PORT, cfg.HOST);
  return app;
}
