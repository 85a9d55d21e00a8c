import { ConfigError, describeConfig } from '@executor/platform';
import { loadPersistenceConfig, PersistenceConfigSchema } from './config';

describe('persistence config', () => {
  it('applies the documented defaults', () => {
    expect(loadPersistenceConfig({ REDIS_URL: 'redis://127.0.0.1:6379' })).toEqual({
      REDIS_URL: 'redis://127.0.0.1:6379',
      QUEUE_PREFIX: 'executor',
      HOST: '127.0.0.1',
      INTERNAL_API_TOKEN: '',
      PORT: 8082,
      KEEP_VERSIONS: 3,
      GRACE_SECONDS: 3600,
      MAX_SNAPSHOT_BYTES: 512 * 1024 * 1024,
      SESSION_QUOTA_BYTES: 1024 * 1024 * 1024,
      CONCURRENCY: 2,
      BLOB_BROTLI_QUALITY: 1,
      SWEEP_INTERVAL_SECONDS: 30,
      PENDING_BLOB_TTL_SECONDS: 3600,
    });
  });

  it('requires REDIS_URL and names every bad variable', () => {
    expect(() => loadPersistenceConfig({})).toThrow(ConfigError);
    try {
      loadPersistenceConfig({ REDIS_URL: 'http://x', KEEP_VERSIONS: '0', PORT: 'abc' });
      throw new Error('should have thrown');
    } catch (err) {
      const msg = (err as Error).message;
      expect(msg).toMatch(/REDIS_URL/);
      expect(msg).toMatch(/KEEP_VERSIONS/);
      expect(msg).toMatch(/PORT/);
    }
  });

  it('documents every option', () => {
    const table = describeConfig(PersistenceConfigSchema);
    for (const key of Object.keys(PersistenceConfigSchema.properties)) expect(table).toContain(`\`${key}\``);
    expect(table).not.toMatch(/\|\s*\|\s*$/m);
  });
});
