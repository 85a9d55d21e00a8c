import { e2bResultLine, e2bText } from '../interpreter/results';
import { rewriteSandboxUrl } from './routing';
import { fileSignature, sandboxUser, signatureValid, tokenMatches } from './sandbox-auth';

describe('E2B sandbox plane: routing, tokens, results', () => {
  it('routes on E2b-Sandbox-Id before any path, and hides the internal prefix otherwise', () => {
    const h = { 'e2b-sandbox-id': 'ses-1', 'e2b-sandbox-port': '49983' };
    expect(rewriteSandboxUrl(h, '/health')).toBe('/_e2b/sandbox/49983/health');
    expect(rewriteSandboxUrl(h, '/files?path=%2Fa')).toBe('/_e2b/sandbox/49983/files?path=%2Fa');
    expect(rewriteSandboxUrl({ 'e2b-sandbox-id': 'x', 'e2b-sandbox-port': '49999' }, '/contexts')).toBe(
      '/_e2b/sandbox/49999/contexts',
    );
    expect(rewriteSandboxUrl({ 'e2b-sandbox-id': 'x', 'e2b-sandbox-port': 'evil/../..' }, '/x')).toBe(
      '/_e2b/sandbox/0/x',
    );
    expect(rewriteSandboxUrl({}, '/health/live')).toBe('/health/live');
    expect(rewriteSandboxUrl({}, '/_e2b/sandbox/49983/files')).toBe('/_e2b/no-sandbox-header');
  });

  it('compares tokens in constant time and checks signed URLs (path, operation, user, expiry)', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    expect(tokenMatches('abd', 'abc')).toBe(false);
    expect(tokenMatches(undefined, 'abc')).toBe(false);
    expect(tokenMatches('abc', undefined)).toBe(false);
    const token = 'tok';
    const sig = fileSignature('/home/user/a', 'read', '', token);
    expect(sig).toMatch(/^v1_[A-Za-z0-9+/]+$/);
    expect(signatureValid({ path: '/home/user/a', signature: sig }, 'read', token)).toBe(true);
    expect(signatureValid({ path: '/home/user/a', signature: sig }, 'write', token)).toBe(false);
    expect(signatureValid({ path: '/home/user/b', signature: sig }, 'read', token)).toBe(false);
    const exp = 2_000_000_000;
    const timed = fileSignature('/a', 'write', 'user', token, exp);
    const q = { path: '/a', username: 'user', signature: timed, signature_expiration: String(exp) };
    expect(signatureValid(q, 'write', token, exp - 1)).toBe(true);
    expect(signatureValid(q, 'write', token, exp + 1)).toBe(false);
  });

  it('accepts the sandbox user (and root, run as user), refuses other users', () => {
    expect(sandboxUser(undefined, undefined)).toBe('user');
    expect(sandboxUser('root', undefined)).toBe('user');
    expect(sandboxUser(undefined, `Basic ${Buffer.from('root:').toString('base64')}`)).toBe('user');
    expect(sandboxUser('mallory', undefined)).toBeUndefined();
    expect(sandboxUser(undefined, `Basic ${Buffer.from('mallory:').toString('base64')}`)).toBeUndefined();
  });

  it('maps Jupyter mime bundles to E2B result lines (quotes stripped once, unknown mimes kept)', () => {
    expect(e2bText("'v1'")).toBe('v1');
    expect(e2bText("{'a': 1}")).toBe("{'a': 1}");
    expect(e2bText("''x''")).toBe("'x'");
    expect(
      e2bResultLine({
        isMain: true,
        'text/plain': "'hi'",
        'text/html': '<b>hi</b>',
        'image/png': 'iVBOR',
        'application/json': { a: 1 },
        'application/vnd.custom+json': { z: 1 },
      }),
    ).toEqual({
      type: 'result',
      is_main_result: true,
      text: 'hi',
      html: '<b>hi</b>',
      png: 'iVBOR',
      json: { a: 1 },
      'application/vnd.custom+json': { z: 1 },
    });
  });
});
