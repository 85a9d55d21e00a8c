import { ConfigError, describeConfig } from '@executor/platform';
import { OperatorConfigSchema, loadOperatorConfig as load, operatorIdentity } from './operator-config';

/** Per-pool Redis users (the default) derive passwords from the operator's own: one is required. */
const loadOperatorConfig = (env: NodeJS.ProcessEnv): ReturnType<typeof load> =>
  load({ REDIS_URL: 'redis://operator:pw@localhost:6379', ...env });

describe('operator config', () => {
  it('has documented defaults for everything', () => {
    const cfg = loadOperatorConfig({});
    expect(cfg).toMatchObject({
      PORT: 8083,
      LEADER_ELECTION: true,
      WATCH_NAMESPACE: '',
      KUBECONFIG: '',
      RESYNC_SECONDS: 300,
      LEASE_NAMESPACE: 'executor-system',
    });
    for (const [name, s] of Object.entries(OperatorConfigSchema.properties)) {
      expect([name, (s as { description?: string }).description?.length ?? 0]).not.toEqual([name, 0]);
      expect([name, (s as { default?: unknown }).default]).not.toEqual([name, undefined]);
    }
    expect(describeConfig(OperatorConfigSchema)).toContain('| `WATCH_NAMESPACE` |');
  });

  it('converts env strings and rejects bad values naming the variable', () => {
    expect(loadOperatorConfig({ PORT: '9000', LEADER_ELECTION: 'false' })).toMatchObject({
      PORT: 9000,
      LEADER_ELECTION: false,
    });
    expect(() => loadOperatorConfig({ PORT: 'x' })).toThrow(/PORT/);
    expect(() => loadOperatorConfig({ WATCH_NAMESPACE: 'Bad_NS' })).toThrow(ConfigError);
    expect(() =>
      loadOperatorConfig({ LEASE_DURATION_SECONDS: '2', LEASE_RENEW_DEADLINE_MS: '5000' }),
    ).toThrow(/LEASE_RENEW_DEADLINE_MS/);
  });

  it('refuses per-pool Redis users without a key or a password to derive theirs from', () => {
    expect(() => load({ REDIS_URL: 'redis://localhost:6379' })).toThrow(/POOL_REDIS_PASSWORD_KEY/);
    expect(
      load({ REDIS_URL: 'redis://localhost:6379', POOL_REDIS_PASSWORD_KEY: 'k'.repeat(32) }),
    ).toBeTruthy();
    expect(load({ REDIS_URL: 'redis://localhost:6379', EXECUTOR_REDIS_USERS: 'shared' })).toBeTruthy();
  });

  it('uses POD_NAME as the lease identity, else host and pid', () => {
    expect(operatorIdentity(loadOperatorConfig({ POD_NAME: 'op-0' }))).toBe('op-0');
    expect(operatorIdentity(loadOperatorConfig({}))).toMatch(new RegExp(`-${process.pid}$`));
  });
});
