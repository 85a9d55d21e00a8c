import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatBanner } from './banner';
import { KEY_BYTES, ensureKeyFile } from './keys';
import { SANDBOX_NONE_WARNING, resolveSandbox } from './local-defaults';
import { DEFAULT_POOLS_SPEC, parsePools } from './pools';

describe('npm start defaults', () => {
  it('runs SANDBOX=bwrap unless none is asked for explicitly, which comes with a warning', () => {
    expect(resolveSandbox({})).toEqual({ mode: 'bwrap' });
    expect(resolveSandbox({ SANDBOX: '' })).toEqual({ mode: 'bwrap' });
    expect(resolveSandbox({ SANDBOX: 'bwrap' })).toEqual({ mode: 'bwrap' });
    expect(resolveSandbox({ SANDBOX: 'none' })).toEqual({ mode: 'none', warning: SANDBOX_NONE_WARNING });
    expect(() => resolveSandbox({ SANDBOX: 'off' })).toThrow(
      'SANDBOX must be bwrap (default) or none, not "off"',
    );
  });

  it('starts python ×2, python-data, node, code-interpreter-v1 and base (E2B) by default', () => {
    expect(parsePools(DEFAULT_POOLS_SPEC)).toEqual([
      { name: 'python', template: 'python', replicas: 2, region: undefined },
      { name: 'python-data', template: 'python-data', replicas: 1, region: undefined },
      { name: 'node', template: 'node', replicas: 1, region: undefined },
      { name: 'code-interpreter', template: 'code-interpreter-v1', replicas: 1, region: undefined },
      { name: 'base', template: 'base', replicas: 1, region: undefined },
    ]);
    expect(() => parsePools('x')).toThrow(/name:template/);
    expect(() => parsePools('a:python:0')).toThrow(/positive integer/);
  });

  describe('keys', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'keys-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('generates a key of 32 random bytes once, mode 0600, and keeps it', () => {
      const file = join(dir, 'api-key');
      const first = ensureKeyFile(file, 'local');
      expect(first.created).toBe(true);
      const [name, key] = first.entry.split(':') as [string, string];
      expect(name).toBe('local');
      expect(Buffer.from(key, 'base64url').length).toBe(KEY_BYTES);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(ensureKeyFile(file, 'local')).toEqual({ entry: first.entry, created: false, replaced: false });
      expect(ensureKeyFile(join(dir, 'admin-key'), 'admin').entry).not.toBe(first.entry);
    });

    it('replaces a weaker key (24 bytes, from an older version) and tightens the mode', () => {
      const file = join(dir, 'api-key');
      writeFileSync(file, `local:${Buffer.alloc(24, 1).toString('base64url')}\n`, { mode: 0o644 });
      const r = ensureKeyFile(file, 'local');
      expect(r.replaced).toBe(true);
      expect(Buffer.from(r.entry.split(':')[1] as string, 'base64url').length).toBe(KEY_BYTES);
      expect(readFileSync(file, 'utf8').trim()).toBe(r.entry);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    });
  });

  it('prints the URL, both keys, the sandbox mode (with the none warning) and each pool with its health', () => {
    const text = formatBanner({
      urls: ['http://127.0.0.1:8080'],
      tenantKey: 'TENANT',
      adminKey: 'ADMIN',
      sandbox: 'none',
      sandboxWarning: SANDBOX_NONE_WARNING,
      logsDir: '/x/logs',
      pools: [
        { name: 'python', template: 'python', pods: 2, healthy: true },
        {
          name: 'python-data',
          template: 'python-data',
          pods: 1,
          healthy: false,
          reason: 'smoke test failed: x',
        },
      ],
    });
    expect(text).toContain('API:        http://127.0.0.1:8080');
    expect(text).toContain('Tenant key: TENANT');
    expect(text).toContain('Admin key:  ADMIN');
    expect(text).toContain('Sandbox:    none');
    expect(text).toContain(`WARNING:    ${SANDBOX_NONE_WARNING}`);
    expect(text).toContain('python (python ×2): healthy');
    expect(text).toContain('python-data (python-data ×1): NOT HEALTHY — smoke test failed: x');
    expect(
      formatBanner({
        ...{ urls: [], tenantKey: '', adminKey: '', logsDir: '', pools: [] },
        sandbox: 'bwrap',
      }),
    ).not.toContain('WARNING');
  });
});
