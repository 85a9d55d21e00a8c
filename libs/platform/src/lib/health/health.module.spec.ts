import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import Redis from 'ioredis';
import { startRedis, type TestRedis } from '@executor/testing';
import { PlatformHealthModule } from './health.module';

const REDIS = 'REDIS';

describe('PlatformHealthModule', () => {
  let redis: TestRedis;
  let client: Redis;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    @Module({
      providers: [{ provide: REDIS, useValue: client }],
      exports: [REDIS],
    })
    class RedisModule {}
    @Module({ imports: [RedisModule, PlatformHealthModule.forRoot({ redisToken: REDIS })] })
    class AppModule {}
    @Module({ imports: [AppModule] })
    class Root {}
    // PlatformHealthModule needs REDIS visible: import it globally through the root.
    app = await NestFactory.create<NestFastifyApplication>(
      {
        module: Root,
        imports: [
          {
            module: RedisModule,
            global: true,
            providers: [{ provide: REDIS, useValue: client }],
            exports: [REDIS],
          },
        ],
      } as never,
      new FastifyAdapter(),
      { logger: false },
    );
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });
  afterAll(async () => {
    await app.close();
    client.disconnect();
    await redis.stop();
  });

  it('is live and ready while redis answers, and not ready when it is gone', async () => {
    const live = await app.inject({ method: 'GET', url: '/health/live' });
    expect(live.statusCode).toBe(200);
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ok', info: { redis: { status: 'up' } } });

    await redis.kill();
    const down = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(down.statusCode).toBe(503);
    expect((await app.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
  });
});
