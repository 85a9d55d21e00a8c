import { JobError } from '@executor/queues';
import { loadOperatorConfig } from '../config/operator-config';
import { KubeApiError } from '../kube/kube-client';
import { OperatorMetrics } from '../metrics/operator-metrics';
import { SessionEventsConsumer } from './session-events.consumer';
import { UnknownPoolError, type SessionController } from './session.controller';

const event = {
  type: 'session.created',
  sessionId: 's1',
  tenant: 't',
  pool: 'py',
  pod: 'py-1',
  template: 'python',
  persist: true,
  ttlSeconds: 60,
  expiresAt: '2026-01-01T00:01:00Z',
  at: '2026-01-01T00:00:00Z',
};

function consumer(applyEvent: (ev: unknown) => Promise<void>): {
  c: SessionEventsConsumer;
  metrics: OperatorMetrics;
} {
  const metrics = new OperatorMetrics(false);
  const controller = { applyEvent } as unknown as SessionController;
  return {
    c: new SessionEventsConsumer(loadOperatorConfig({ EXECUTOR_REDIS_USERS: 'shared' }), controller, metrics),
    metrics,
  };
}

describe('SessionEventsConsumer.process', () => {
  it('applies a valid event', async () => {
    const seen: unknown[] = [];
    const { c } = consumer(async (ev) => void seen.push(ev));
    await expect(c.process({ name: 'session.created', data: event })).resolves.toEqual({});
    expect(seen).toEqual([event]);
  });

  it('fails invalid payloads and unknown event names as unrecoverable invalid_argument', async () => {
    const { c, metrics } = consumer(async () => undefined);
    const bad = await c
      .process({ name: 'session.created', data: { ...event, ttlSeconds: 0 } })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(JobError);
    expect((bad as JobError).code).toBe('invalid_argument');
    expect((bad as Error).message).toMatch(/ttlSeconds/);
    await expect(c.process({ name: 'session.teleported', data: event })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    expect(await metrics.registry.getSingleMetricAsString('operator_session_events_total')).toContain(
      'result="invalid"',
    );
  });

  it('maps an unknown pool to not_found and retries transient API errors', async () => {
    const { c } = consumer(async () => {
      throw new UnknownPoolError('py');
    });
    await expect(c.process({ name: 'session.created', data: event })).rejects.toMatchObject({
      code: 'not_found',
    });
    let calls = 0;
    const { c: flaky } = consumer(async () => {
      if (++calls < 3) throw new KubeApiError(503, 'ServiceUnavailable', 'etcd busy', 'PATCH', '/x');
    });
    await expect(flaky.process({ name: 'session.created', data: event })).resolves.toEqual({});
    expect(calls).toBe(3);
    const { c: rejected } = consumer(async () => {
      throw new KubeApiError(422, 'Invalid', 'bad', 'PATCH', '/x');
    });
    await expect(rejected.process({ name: 'session.created', data: event })).rejects.toBeInstanceOf(
      KubeApiError,
    );
  });
});
