import type { PodHeartbeat } from '@executor/queues';
import { poolUnavailableReason, type PodView, type PoolView } from './pool-view';

function pod(name: string, over: Partial<PodHeartbeat> = {}, sessions = 0): PodView {
  const heartbeat: PodHeartbeat = {
    pool: 'p',
    pod: name,
    template: 'python',
    capacity: 2,
    sessions,
    running: 0,
    load: 0,
    version: '0.1.0',
    queue: `pod-${name}`,
    accepting: true,
    healthy: true,
    startedAt: '',
    at: '',
    ...over,
  };
  const takes = heartbeat.accepting && heartbeat.healthy !== false;
  return {
    heartbeat,
    assigned: 0,
    sessions,
    queueDepth: 0,
    hasCapacity: takes && sessions < heartbeat.capacity,
  };
}

function pool(pods: PodView[]): PoolView {
  return {
    name: 'p',
    template: 'python',
    region: '',
    weight: 1,
    registeredAt: '',
    managedBy: '',
    sessions: 0,
    pods,
    queueDepth: 0,
  };
}

describe('poolUnavailableReason', () => {
  it('is undefined while one pod takes sessions, even next to an unhealthy one', () => {
    expect(
      poolUnavailableReason(pool([pod('a'), pod('b', { healthy: false, reason: 'x' })])),
    ).toBeUndefined();
  });

  it('names an unhealthy pod and its own reason (smoke test), and how many more there are', () => {
    const v = pool([
      pod('a', { healthy: false, reason: 'template python: smoke test failed: exit 1' }),
      pod('b', { healthy: false, reason: 'other' }),
    ]);
    expect(poolUnavailableReason(v)).toBe(
      'pod a is not healthy: template python: smoke test failed: exit 1 (and 1 more unhealthy pods)',
    );
  });

  it('says when there is no live pod, when every pod drains, and when every pod is full', () => {
    expect(poolUnavailableReason(pool([]))).toBe('no live pod (no heartbeat)');
    expect(poolUnavailableReason(pool([pod('a', { accepting: false })]))).toBe('every pod is draining');
    expect(poolUnavailableReason(pool([pod('a', {}, 2)]))).toBe('every pod is full');
  });

  it('counts a heartbeat without the healthy field (older executors) as healthy', () => {
    const { healthy: _omit, ...old } = pod('a').heartbeat;
    const view = pod('a');
    expect(poolUnavailableReason(pool([{ ...view, heartbeat: old as PodHeartbeat }]))).toBeUndefined();
  });
});
