import { applyPoolDefaults, type ExecutorPoolSpec, type ResolvedPool } from '@executor/crd';
import { computePoolStatus, statusChanged } from './pool-status';

function pool(status?: ResolvedPool['status']): ResolvedPool {
  return {
    apiVersion: 'executor.ai-orchestrator.io/v1',
    kind: 'ExecutorPool',
    metadata: { name: 'py', namespace: 'ns', uid: 'u', generation: 4 },
    spec: applyPoolDefaults({ template: 'python', minReplicas: 2, maxReplicas: 3 } as ExecutorPoolSpec),
    ...(status ? { status } : {}),
  };
}
const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T00:01:00Z');
const byType = (s: ReturnType<typeof computePoolStatus>, type: string) =>
  s.conditions?.find((c) => c.type === type);

describe('computePoolStatus', () => {
  it('reports Ready/Scaling/Degraded, counts and observedGeneration', () => {
    const s = computePoolStatus(
      pool(),
      { desiredReplicas: 3, currentReplicas: 2, readyPods: 2, activeSessions: 5, queueDepth: 7 },
      t0,
    );
    expect(s).toMatchObject({
      replicas: 2,
      readyReplicas: 2,
      activeSessions: 5,
      queueDepth: 7,
      observedGeneration: 4,
      lastScaleTime: '2026-01-01T00:00:00Z',
    });
    expect(byType(s, 'Ready')).toMatchObject({
      status: 'True',
      reason: 'PodsAvailable',
      observedGeneration: 4,
    });
    expect(byType(s, 'Scaling')).toMatchObject({ status: 'True', reason: 'ScalingUp' });
    expect(byType(s, 'Degraded')).toMatchObject({ status: 'False', reason: 'AsExpected' });
    expect(s.selector).toBe('app.kubernetes.io/name=executor,executor.ai-orchestrator.io/pool=py');
  });

  it('keeps lastTransitionTime while a condition keeps its status, and lastScaleTime while replicas stay', () => {
    const first = computePoolStatus(
      pool(),
      { desiredReplicas: 2, currentReplicas: 2, readyPods: 1, activeSessions: 0 },
      t0,
    );
    const second = computePoolStatus(
      pool(first),
      { desiredReplicas: 2, currentReplicas: 2, readyPods: 1, activeSessions: 0 },
      t1,
    );
    expect(second).toEqual(first);
    expect(statusChanged(first, second)).toBe(false);
    const third = computePoolStatus(
      pool(second),
      { desiredReplicas: 2, currentReplicas: 2, readyPods: 2, activeSessions: 0 },
      t1,
    );
    expect(byType(third, 'Ready')).toMatchObject({
      status: 'True',
      lastTransitionTime: '2026-01-01T00:01:00Z',
    });
    expect(byType(third, 'Degraded')?.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    expect(third.lastScaleTime).toBe('2026-01-01T00:00:00Z');
  });

  it('says AtMaxReplicas when stable at the maximum, ScalingDown when shrinking', () => {
    expect(
      byType(
        computePoolStatus(
          pool(),
          { desiredReplicas: 3, currentReplicas: 3, readyPods: 3, activeSessions: 0 },
          t0,
        ),
        'Scaling',
      )?.reason,
    ).toBe('AtMaxReplicas');
    expect(
      byType(
        computePoolStatus(
          pool(),
          { desiredReplicas: 2, currentReplicas: 3, readyPods: 3, activeSessions: 0 },
          t0,
        ),
        'Scaling',
      )?.reason,
    ).toBe('ScalingDown');
  });

  it('marks an invalid spec Degraded and not Ready with the message, leaving the counts alone', () => {
    const prev = computePoolStatus(
      pool(),
      { desiredReplicas: 2, currentReplicas: 2, readyPods: 2, activeSessions: 1 },
      t0,
    );
    const s = computePoolStatus(pool(prev), { readyPods: 0, activeSessions: 0 }, t1, {
      reason: 'InvalidSpec',
      message: 'spec.minReplicas: too big',
    });
    expect(byType(s, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'InvalidSpec',
      message: 'spec.minReplicas: too big',
    });
    expect(byType(s, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(s.readyReplicas).toBe(2);
  });
});
