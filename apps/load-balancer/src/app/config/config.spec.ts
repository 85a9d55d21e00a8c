import { ConfigError } from '@executor/platform';
import { loadLbConfig, parseApiKeys, parseRegionDistances } from './config';

describe('load-balancer config', () => {
  const base = { REDIS_URL: 'redis://127.0.0.1:6379', EXECUTOR_API_KEYS: 'acme:key-acme-123' };

  it('applies the documented defaults', () => {
    const c = loadLbConfig(base);
    expect(c).toMatchObject({
      QUEUE_PREFIX: 'executor',
      HOST: '127.0.0.1',
      PORT: 8080,
      MAX_BODY_BYTES: 100 * 1024 * 1024,
      MAX_FILE_BYTES: 100 * 1024 * 1024,
      MAX_CODE_BYTES: 1024 * 1024,
      BREAKER_FAILURE_THRESHOLD: 5,
      BREAKER_RECOVERY_TIMEOUT_MS: 30_000,
      BREAKER_HALF_OPEN_REQUESTS: 3,
      ADMIN_UI: 'enabled',
      authEnabled: true,
    });
    expect(c.keys.get('key-acme-123')).toBe('acme');
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

  it('parses tenant:key pairs and names a bad entry', () => {
    expect([...parseApiKeys(' a:key-aaaa-1 , b:key-bbbb-2 ')]).toEqual([
      ['key-aaaa-1', 'a'],
      ['key-bbbb-2', 'b'],
    ]);
    expect(() => parseApiKeys('nokey')).toThrow(/entry "nokey" must be tenant:key/);
    expect(() => parseApiKeys('a:short')).toThrow(/key ≥ 8 chars/);
    expect(() => parseApiKeys('a:key-same-1,b:key-same-1')).toThrow(/used twice/);
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
