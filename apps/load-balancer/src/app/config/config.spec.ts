import { ConfigError } from '@executor/platform';
import { loadLbConfig, parseRegionDistances } from './config';

describe('load-balancer config', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:6379', EXECUTOR_API_KEYS: `acme:${'k'.repeat(32)}` };

  it('applies the documented defaults', () => {
    const c = loadLbConfig(base);
    expect(c).toMatchObject({
      QUEUE_PREFIX: 'executor',
      HOST: '127.0.0.1',
      PORT: 8080,
      MAX_BODY_BYTES: 2 * 1024 * 1024,
      MAX_FILE_BYTES: 100 * 1024 * 1024,
      MAX_CODE_BYTES: 1024 * 1024,
      BREAKER_FAILURE_THRESHOLD: 5,
      BREAKER_RECOVERY_TIMEOUT_MS: 30_000,
      BREAKER_HALF_OPEN_REQUESTS: 3,
      ADMIN_UI: 'enabled',
      ADMIN_UI_SESSION_DATA: 'redacted',
      RATE_LIMIT_MAX: 3000,
      RATE_LIMIT_WINDOW_MS: 60_000,
      TENANT_MAX_SESSIONS: 20,
      TENANT_MAX_RUNNING_EXECUTIONS: 16,
      IDEMPOTENCY_TTL_SECONDS: 86_400,
      authEnabled: true,
    });
    expect(c.keyring.lookup('k'.repeat(32))).toEqual({ role: 'tenant', name: 'acme' });
    expect(c.replicaId).toMatch(/-\d+$/);
  });

  it('refuses to start without keys unless auth is disabled explicitly', () => {
    expect(() => loadLbConfig({ REDIS_URL: base.REDIS_URL })).toThrow(
      /EXECUTOR_API_KEYS: no API keys configured/,
    );
    expect(loadLbConfig({ REDIS_URL: base.REDIS_URL, EXECUTOR_AUTH: 'disabled' }).authEnabled).toBe(false);
  });

  it.each([
    [{ REDIS_URL: undefined }, /REDIS_URL/],
    [{ PORT: 'eighty' }, /PORT/],
    [{ EXECUTOR_AUTH: 'maybe' }, /EXECUTOR_AUTH/],
    [{ MAX_CODE_BYTES: '0' }, /MAX_CODE_BYTES/],
    [{ ADMIN_UI: 'yes' }, /ADMIN_UI/],
  ])('rejects bad values %j with a ConfigError naming them', (extra, re) => {
    expect(() => loadLbConfig({ ...base, ...extra })).toThrow(ConfigError);
    expect(() => loadLbConfig({ ...base, ...extra })).toThrow(re);
  });

  it('parses tenant and admin keys; a short key is a clear config error at boot', () => {
    const k = (c: string): string => c.repeat(32);
    const c = loadLbConfig({
      REDIS_URL: base.REDIS_URL,
      EXECUTOR_API_KEYS: ` a:${k('a')} , b:${k('b')} `,
      EXECUTOR_ADMIN_KEYS: `ops:${k('o')}`,
    });
    expect(c.keyring.lookup(k('b'))).toEqual({ role: 'tenant', name: 'b' });
    expect(c.keyring.lookup(k('o'))).toEqual({ role: 'admin', name: 'ops' });
    // Only admin keys is a valid setup (pools managed, no tenants yet).
    expect(
      loadLbConfig({ REDIS_URL: base.REDIS_URL, EXECUTOR_ADMIN_KEYS: `ops:${k('o')}` }).keyring.size,
    ).toBe(1);
    expect(() => loadLbConfig({ ...base, EXECUTOR_API_KEYS: 'acme:dev-key' })).toThrow(
      /EXECUTOR_API_KEYS: the key of "acme" has 7 characters; keys need at least 32/,
    );
    expect(() => loadLbConfig({ ...base, EXECUTOR_ADMIN_KEYS: 'nokey' })).toThrow(
      /EXECUTOR_ADMIN_KEYS: .*name:key/,
    );
  });

  it('parses region distances as JSON or a:b=n pairs, symmetric', () => {
    expect(parseRegionDistances('eu:us=10,eu:asia=20')).toEqual({
      eu: { us: 10, asia: 20 },
      us: { eu: 10 },
      asia: { eu: 20 },
    });
    expect(parseRegionDistances('{"eu":{"us":3}}')).toEqual({ eu: { us: 3 }, us: { eu: 3 } });
    expect(parseRegionDistances('')).toEqual({});
    expect(() => parseRegionDistances('eu-us')).toThrow(/must look like a:b=1/);
    expect(() => parseRegionDistances('{"eu":')).toThrow(/invalid JSON/);
    expect(() => parseRegionDistances('eu:us=-1')).toThrow(/distance a number/);
  });
});
