import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_URL, configPath, resolveConfig } from './config';

describe('resolveConfig', () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'executor-cli-'));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  const writeConfig = (content: string, path = join(home, '.config', 'executor', 'config.json')): string => {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
    return path;
  };

  it('takes flags over env over the config file, and defaults the URL', () => {
    writeConfig(JSON.stringify({ url: 'http://file:1', apiKey: 'file-key' }));
    const env = { HOME: home };
    expect(resolveConfig({}, env)).toEqual({ url: 'http://file:1', apiKey: 'file-key' });
    expect(resolveConfig({}, { ...env, EXECUTOR_URL: 'http://env:2', EXECUTOR_API_KEY: 'env-key' })).toEqual({
      url: 'http://env:2',
      apiKey: 'env-key',
    });
    expect(
      resolveConfig({ url: 'http://flag:3', key: 'flag-key' }, { ...env, EXECUTOR_URL: 'http://env:2' }),
    ).toEqual({ url: 'http://flag:3', apiKey: 'flag-key' });
    expect(resolveConfig({}, { HOME: join(home, 'none'), EXECUTOR_API_KEY: 'k' })).toEqual({
      url: DEFAULT_URL,
      apiKey: 'k',
    });
  });

  it('reads EXECUTOR_CONFIG and XDG_CONFIG_HOME', () => {
    const p = writeConfig('{"apiKey":"x-key"}', join(home, 'custom.json'));
    expect(resolveConfig({}, { EXECUTOR_CONFIG: p }).apiKey).toBe('x-key');
    expect(configPath({ XDG_CONFIG_HOME: '/xdg', HOME: '/h' }).path).toBe('/xdg/executor/config.json');
    expect(configPath({ HOME: '/h' }).path).toBe('/h/.config/executor/config.json');
  });

  it('explains every problem', () => {
    expect(() => resolveConfig({}, { HOME: home })).toThrow(
      /no API key: pass --key, set EXECUTOR_API_KEY, or put \{"apiKey": "..."\} in .*config.json/,
    );
    expect(() => resolveConfig({}, { EXECUTOR_CONFIG: join(home, 'missing.json') })).toThrow(
      'cannot read config file',
    );
    writeConfig('{nope');
    expect(() => resolveConfig({}, { HOME: home })).toThrow('is not valid JSON');
    writeConfig('{"apiKey": 5}');
    expect(() => resolveConfig({}, { HOME: home })).toThrow('"apiKey" must be a string');
    writeConfig('{"token": "x"}');
    expect(() => resolveConfig({}, { HOME: home })).toThrow('unknown field "token"');
    expect(() => resolveConfig({ url: 'ftp://x', key: 'k' }, { HOME: join(home, 'none') })).toThrow(
      'is not an http(s) URL',
    );
  });
});
