import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { JobRpcClient, PodJobDefs, createRedis, podHeartbeat, podQueueName } from '@executor/queues';
import { startRedis } from '@executor/testing';

async function main(): Promise<void> {
  const redis = await startRedis();
  const client = createRedis(redis.url);
  const ex = spawn(process.execPath, [resolve(__dirname, '../../../dist/apps/executor/main.js')], {
    env: { ...process.env, POOL_NAME: 'py', POD_NAME: 'py-0', TEMPLATE: 'python', REDIS_URL: redis.url, QUEUE_PREFIX: 'p', WORKSPACE_ROOT: mkdtempSync(join(tmpdir(), 'ws-')), PORT: '0', SANDBOX: 'none', LOG_LEVEL: 'warn', MAX_SESSIONS: '500' },
    stdio: 'ignore',
  });
  while (!(await podHeartbeat(client, 'py-0', 'p'))) await new Promise((r) => setTimeout(r, 100));
  const rpc = new JobRpcClient({ redisUrl: redis.url, prefix: 'p' });
  const open = { sessionId: 's1', tenant: 't', template: 'python', pool: 'py', persist: false, ttlSeconds: 300, env: {}, metadata: {}, restore: false };
  let t = performance.now();
  await rpc.call(podQueueName('py-0'), PodJobDefs.open, open, { timeoutMs: 30000 });
  console.log('open', performance.now() - t);
  const lat: number[] = [];
  for (let i = 0; i < 2000; i++) {
    t = performance.now();
    await rpc.call(podQueueName('py-0'), PodJobDefs.execute, { sessionId: 's1', tenant: 't', executionId: `e${i}`, code: 'print(1)', timeoutMs: 30000 }, { timeoutMs: 30000 });
    lat.push(performance.now() - t);
  }
  lat.sort((a, b) => a - b);
  console.log('execute c=1 p50', lat[1000], 'p99', lat[1980]);
  for (let i = 0; i < 16; i++) await rpc.call(podQueueName('py-0'), PodJobDefs.open, { ...open, sessionId: `c${i}` }, { timeoutMs: 30000 });
  for (let i = 0; i < 16; i++) await rpc.call(podQueueName('py-0'), PodJobDefs.execute, { sessionId: `c${i}`, tenant: 't', executionId: `w${i}`, code: 'print(1)', timeoutMs: 30000 }, { timeoutMs: 30000 });
  let n = 0;
  const t16 = performance.now();
  await Promise.all(Array.from({ length: 16 }, async (_, w) => {
    while (performance.now() - t16 < 3000) {
      await rpc.call(podQueueName('py-0'), PodJobDefs.execute, { sessionId: `c${w}`, tenant: 't', executionId: `x${w}-${n}`, code: 'print(1)', timeoutMs: 30000 }, { timeoutMs: 30000 });
      n++;
    }
  }));
  console.log('execute c=16 per second', n / 3);
  const opens: number[] = [];
  for (let i = 0; i < 50; i++) {
    t = performance.now();
    await rpc.call(podQueueName('py-0'), PodJobDefs.open, { ...open, sessionId: `o${i}` }, { timeoutMs: 30000 });
    opens.push(performance.now() - t);
  }
  opens.sort((a, b) => a - b);
  console.log('open p50', opens[25], 'max', opens[49]);
  await rpc.close();
  ex.kill();
  client.disconnect();
  await redis.stop();
}
void main();
