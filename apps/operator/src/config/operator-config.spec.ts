import { ConfigError, describeConfig } from '@executor/platform';
import { OperatorConfigSchema, loadOperatorConfig, operatorIdentity } from './operator-config';

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

  it('uses POD_NAME as the lease identity, else host and pid', () => {
    expect(operatorIdentity(loadOperatorConfig({ POD_NAME: 'op-0' }))).toBe('op-0');
    expect(operatorIdentity(loadOperatorConfig({}))).toMatch(new RegExp(`-${process.pid}$`));
  });
});
