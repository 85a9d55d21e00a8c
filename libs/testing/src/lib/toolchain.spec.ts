// Proves the workspace's module setup: Jest (CommonJS, swc) loads every core package,
// including the ESM-only @kubernetes/client-node 1.4, and they work together.
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { TerminusModule } from '@nestjs/terminus';
import * as k8s from '@kubernetes/client-node';
import { Queue, QueueEvents, Worker } from 'bullmq';
import Redis from 'ioredis';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BoardFastifyAdapter } from '@bull-board/fastify';
import { startRedis, uniquePrefix, type TestRedis } from './redis';

@Injectable()
class Greeter {
  greet(): string {
    return 'hi';
  }
}

@Module({ imports: [TerminusModule], providers: [Greeter] })
class SmokeModule {}

describe('toolchain smoke test', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('loads @kubernetes/client-node 1.4 (ESM) and builds a typed client', () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    expect(kc.makeApiClient(k8s.CoreV1Api)).toBeInstanceOf(k8s.CoreV1Api);
  });

  it('boots NestJS 11 on fastify with DI by decorator metadata', async () => {
    const app = await NestFactory.create<NestFastifyApplication>(SmokeModule, new FastifyAdapter(), {
      logger: false,
    });
    await app.init();
    expect(app.get(Greeter).greet()).toBe('hi');
    await app.close();
  });

  it('runs a BullMQ job on a real redis and shows the queue in bull-board', async () => {
    const prefix = uniquePrefix();
    const connection = { url: redis.url, maxRetriesPerRequest: null };
    const queue = new Queue('smoke', { connection, prefix });
    const events = new QueueEvents('smoke', { connection, prefix });
    const worker = new Worker('smoke', async (job) => (job.data as { n: number }).n * 2, {
      connection,
      prefix,
    });
    await events.waitUntilReady();
    const job = await queue.add('double', { n: 21 });
    expect(await job.waitUntilFinished(events)).toBe(42);

    const serverAdapter = new BoardFastifyAdapter();
    const board = createBullBoard({ queues: [new BullMQAdapter(queue)], serverAdapter });
    expect(board).toBeDefined();

    const client = new Redis(redis.url);
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
    await worker.close();
    await events.close();
    await queue.close();
  });
});
