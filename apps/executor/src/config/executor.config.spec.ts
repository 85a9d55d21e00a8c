import { ConfigError, describeConfig } from '@executor/platform';
import {
  AUTO_UID_FIRST,
  AUTO_UID_STRIDE,
  ExecutorConfigSchema,
  loadExecutorConfig,
  resolveUidBase,
  workerConcurrency,
} from './executor.config';

const required = { POOL_NAME: 'py', POD_NAME: 'py-0', TEMPLATE: 'python' };

describe('executor config', () => {
  it('applies the documented defaults', () => {
    const cfg = loadExecutorConfig(required);
    expect(cfg).toMatchObject({
      SANDBOX: 'bwrap',
      HOST: '127.0.0.1',
      PORT: 8081,
      SNAPSHOT_INTERVAL_SECONDS: 60,
      MAX_CODE_BYTES: 1048576,
      MAX_OUTPUT_BYTES: 1048576,
      MAX_FILE_BYTES: 104857600,
      WARM_KERNELS: 2,
      QUEUE_PREFIX: 'executor',
    });
    expect(workerConcurrency(cfg)).toBe(cfg.MAX_SESSIONS + 4);
  });

  it('converts numbers and booleans from strings', () => {
    expect(loadExecutorConfig({ ...required, PORT: '9000', ALLOW_NETWORK: 'true' })).toMatchObject({
      PORT: 9000,
      ALLOW_NETWORK: true,
    });
  });

  it('refuses bad values naming the variable', () => {
    expect(() =>
      loadExecutorConfig({ ...required, TEMPLATE: 'cobol', SANDBOX: 'docker', MAX_SESSIONS: '0' }),
    ).toThrow(ConfigError);
    try {
      loadExecutorConfig({ POD_NAME: 'Bad:Name', TEMPLATE: 'python' });
    } catch (e) {
      const msg = (e as Error).message;
      expect(msg).toMatch(/POOL_NAME/);
      expect(msg).toMatch(/POD_NAME/);
    }
  });

  it('documents every option once (describeConfig table)', () => {
    const table = describeConfig(ExecutorConfigSchema);
    for (const key of Object.keys(ExecutorConfigSchema.properties)) expect(table).toContain(`\`${key}\``);
    for (const [, s] of Object.entries(ExecutorConfigSchema.properties))
      expect((s as { description?: string }).description?.length).toBeGreaterThan(10);
    expect(table.split('\n').length).toBe(Object.keys(ExecutorConfigSchema.properties).length + 2);
  });

  it('SANDBOX_UID_BASE: explicit numbers as given; auto gives distinct, stable ranges per pod name', () => {
    expect(resolveUidBase(loadExecutorConfig({ ...required, SANDBOX_UID_BASE: '40000' }))).toBe(40000);
    const auto = (pod: string): number => resolveUidBase(loadExecutorConfig({ ...required, POD_NAME: pod }));
    expect(auto('python-abc123')).toBe(auto('python-abc123'));
    const bases = new Set(Array.from({ length: 200 }, (_, i) => auto(`python-${i.toString(36)}x`)));
    expect(bases.size).toBe(200);
    for (const b of bases) {
      expect(b).toBeGreaterThanOrEqual(AUTO_UID_FIRST);
      expect((b - AUTO_UID_FIRST) % AUTO_UID_STRIDE).toBe(0);
      expect(b + AUTO_UID_STRIDE).toBeLessThanOrEqual(2 ** 31);
    }
  });
});
