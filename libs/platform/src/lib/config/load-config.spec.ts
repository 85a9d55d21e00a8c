import { Type } from '@sinclair/typebox';
import { ConfigError, describeConfig, loadConfig } from './load-config';

const Schema = Type.Object({
  PORT: Type.Integer({ minimum: 1, maximum: 65535, default: 8080, description: 'HTTP port' }),
  HOST: Type.String({ default: '127.0.0.1', description: 'bind address' }),
  REDIS_URL: Type.String({ pattern: '^rediss?://', description: 'Redis' }),
  DEBUG: Type.Boolean({ default: false, description: 'debug' }),
});

describe('loadConfig', () => {
  it('applies defaults and converts strings', () => {
    expect(loadConfig(Schema, { REDIS_URL: 'redis://x', PORT: '9000', DEBUG: 'true' })).toEqual({
      PORT: 9000,
      HOST: '127.0.0.1',
      REDIS_URL: 'redis://x',
      DEBUG: true,
    });
  });

  it('names every bad or missing variable', () => {
    let err: unknown;
    try {
      loadConfig(Schema, { PORT: 'eighty' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/PORT: .*"eighty"/);
    expect((err as Error).message).toMatch(/REDIS_URL/);
    expect((err as ConfigError).problems.filter((p) => p.startsWith('REDIS_URL'))).toHaveLength(1);
  });

  it('documents the options as a table', () => {
    expect(describeConfig(Schema)).toContain('| `PORT` | `8080` | HTTP port |');
    expect(describeConfig(Schema)).toContain('| `REDIS_URL` | (required) | Redis |');
  });
});
