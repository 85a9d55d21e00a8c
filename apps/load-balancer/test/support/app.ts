import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../../src/app/bootstrap';
import { loadLbConfig, type LbConfig } from '../../src/app/config/config';

export const KEY_A = 'key-tenant-a-0001-0123456789abcdef0123';
export const KEY_B = 'key-tenant-b-0002-0123456789abcdef0123';
export const ADMIN_KEY = 'key-admin-ops-0003-0123456789abcdef01';
export const AUTH_A = { authorization: `Bearer ${KEY_A}` };
export const AUTH_B = { authorization: `Bearer ${KEY_B}` };
export const AUTH_ADMIN = { authorization: `Bearer ${ADMIN_KEY}` };
export const KEYS_ENV = {
  EXECUTOR_API_KEYS: `tenant-a:${KEY_A},tenant-b:${KEY_B}`,
  EXECUTOR_ADMIN_KEYS: `ops:${ADMIN_KEY}`,
};

/** The load balancer's config for a suite: it connects as its own Redis user. */
export function testConfig(redisUrl: string, prefix: string, extra: Record<string, string> = {}): LbConfig {
  return loadLbConfig({
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    PORT: '0',
    ...KEYS_ENV,
    LOG_LEVEL: 'warn',
    POD_CALL_TIMEOUT_MS: '5000',
    JOB_TIMEOUT_GRACE_MS: '3000',
    ...extra,
  });
}

/** The real app, in process, listening on a free port. */
export async function startLb(
  config: LbConfig,
): Promise<{ app: NestFastifyApplication; url: string; config: LbConfig }> {
  const app = await createApp(config);
  await app.listen(0, '127.0.0.1');
  const addr = app.getHttpServer().address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { app, url: `http://127.0.0.1:${port}`, config };
}
