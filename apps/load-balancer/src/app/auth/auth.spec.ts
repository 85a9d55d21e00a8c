import { ConfigError } from '@executor/platform';
import { keyFromAuthorization, principalFromAuthorization } from './auth';
import { KeyRing, MIN_KEY_LENGTH } from './keyring';

const TENANT_KEY = 'tenant-acme-key-0123456789abcdef0123';
const ADMIN_KEY = 'admin-ops-key-0123456789abcdef012345';

describe('auth', () => {
  const ring = KeyRing.parse(`acme:${TENANT_KEY}`, `ops:${ADMIN_KEY}`);
  const basic = (user: string, pass: string): string =>
    `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

  it('accepts a Bearer key and basic auth with the key as password; knows the role', () => {
    expect(principalFromAuthorization(`Bearer ${TENANT_KEY}`, ring)).toEqual({
      role: 'tenant',
      name: 'acme',
    });
    expect(principalFromAuthorization(`bearer  ${TENANT_KEY} `, ring)).toEqual({
      role: 'tenant',
      name: 'acme',
    });
    expect(principalFromAuthorization(basic('anyone', ADMIN_KEY), ring)).toEqual({
      role: 'admin',
      name: 'ops',
    });
  });

  it.each([
    undefined,
    '',
    TENANT_KEY,
    'Bearer nope',
    `Bearer ${TENANT_KEY.slice(0, -1)}`,
    `Bearer ${TENANT_KEY}x`,
    `Token ${TENANT_KEY}`,
    'Basic !!!',
    'Basic ' + Buffer.from(TENANT_KEY).toString('base64'),
  ])('rejects %j', (header) => expect(principalFromAuthorization(header, ring)).toBeUndefined());

  it('keeps only digests of the keys (no raw key in memory, no Map lookup by key)', () => {
    const dump = JSON.stringify(ring, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : v));
    expect(dump).not.toContain(TENANT_KEY);
    expect(dump).not.toContain(ADMIN_KEY);
    expect(keyFromAuthorization(`Bearer ${TENANT_KEY}`)).toBe(TENANT_KEY);
  });

  it(`refuses keys shorter than ${MIN_KEY_LENGTH} characters, bad names and duplicates at boot`, () => {
    const problems = (t: string, a = ''): string[] => {
      try {
        KeyRing.parse(t, a);
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(problems('acme:short-key-123')).toEqual([
      expect.stringMatching(/EXECUTOR_API_KEYS: the key of "acme" has 13 characters; keys need at least 32/),
    ]);
    expect(problems('', 'ops:short')).toEqual([expect.stringMatching(/^EXECUTOR_ADMIN_KEYS: .*"ops"/)]);
    expect(problems(`bad name:${TENANT_KEY}`)).toEqual([expect.stringMatching(/must be name:key/)]);
    expect(problems(`a:${TENANT_KEY},b:${TENANT_KEY}`)).toEqual([expect.stringMatching(/used twice/)]);
    expect(problems(`a:${TENANT_KEY}`, `ops:${TENANT_KEY}`)).toEqual([expect.stringMatching(/used twice/)]);
  });

  it('compares in constant time: a near miss costs what a far miss costs', () => {
    const big = KeyRing.parse(
      Array.from({ length: 200 }, (_, i) => `t${i}:${TENANT_KEY}${i}`).join(','),
      `ops:${ADMIN_KEY}`,
    );
    const time = (key: string): number => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 2000; i++) big.lookup(key);
      return Number(process.hrtime.bigint() - t0);
    };
    time(ADMIN_KEY); // warm up
    const samples = (key: string): number => Math.min(...Array.from({ length: 5 }, () => time(key)));
    const first = samples(`${TENANT_KEY}0`);
    const miss = samples('x'.repeat(40));
    // Same work for the first entry matching and for no entry matching (no early exit).
    expect(first / miss).toBeGreaterThan(0.5);
    expect(first / miss).toBeLessThan(2);
  });
});
