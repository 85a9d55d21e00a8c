import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { startRedis, type TestRedis } from '@executor/testing';
import { RedisDurabilityService } from './redis-durability.service';

describe('RedisDurabilityService (real redis-server)', () => {
  const servers: TestRedis[] = [];
  const clients: Redis[] = [];
  const check = async (opts: Parameters<typeof startRedis>[0]) => {
    const r = await startRedis(opts);
    servers.push(r);
    const c = new Redis(r.url);
    clients.push(c);
    return new RedisDurabilityService(c).check();
  };
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    for (const s of servers) await s.stop();
  });

  it('is satisfied by the shipped apps/persistence/redis.conf', async () => {
    const conf = readFileSync(join(__dirname, '../../../redis.conf'), 'utf8');
    const args = conf
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .flatMap((l) => {
        const [key, ...rest] = l.split(/\s+/);
        return [`--${key}`, rest.join(' ')];
      });
    expect(args).toContain('--maxmemory-policy');
    expect(await check({ args })).toEqual({ checked: true, problems: [] });
  });

  it('flags an evicting policy and AOF off', async () => {
    const r = await check({ args: ['--maxmemory-policy', 'allkeys-lru'] });
    expect(r.checked).toBe(true);
    expect(r.problems.join('\n')).toMatch(/maxmemory-policy is "allkeys-lru".*EVICT/);
    expect(r.problems.join('\n')).toMatch(/appendonly is off/);
  });

  it('flags appendfsync no', async () => {
    const r = await check({ appendOnly: true, args: ['--appendfsync', 'no'] });
    expect(r.problems).toEqual([expect.stringMatching(/appendfsync is "no"/)]);
  });

  it('tolerates CONFIG being disabled (managed Redis)', async () => {
    expect(await check({ args: ['--rename-command', 'CONFIG', '""'] })).toEqual({
      checked: false,
      problems: [],
    });
  });
});
