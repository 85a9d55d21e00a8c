import { tenantFromAuthorization } from './auth';

describe('tenantFromAuthorization', () => {
  const keys = new Map([['key-acme-123', 'acme']]);
  const basic = (user: string, pass: string): string =>
    `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

  it('accepts a Bearer key and basic auth with the key as password', () => {
    expect(tenantFromAuthorization('Bearer key-acme-123', keys)).toBe('acme');
    expect(tenantFromAuthorization('bearer  key-acme-123 ', keys)).toBe('acme');
    expect(tenantFromAuthorization(basic('anyone', 'key-acme-123'), keys)).toBe('acme');
  });

  it.each([
    undefined,
    '',
    'key-acme-123',
    'Bearer nope',
    'Token key-acme-123',
    'Basic !!!',
    'Basic ' + Buffer.from('key-acme-123').toString('base64'),
  ])('rejects %j', (header) => expect(tenantFromAuthorization(header, keys)).toBeUndefined());
});
