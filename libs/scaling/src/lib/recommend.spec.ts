import * as seed from './constants';
import { DEFAULT_BEHAVIOR, InvalidScalingInputError, resolveScalingConfig } from './config';
import { recommendReplicas, type RecommendInput } from './recommend';
import type { ScalingConfig, ScalingHistory } from './types';

const POOL: ScalingConfig = { minReplicas: 2, maxReplicas: 20 };
const S = 1000;
/** A history whose recommendations all equal `replicas`, one per 15 s sync over the last 5 minutes. */
function steadyHistory(replicas: number, nowS: number): ScalingHistory {
  const recommendations = Array.from({ length: 20 }, (_, i) => ({ at: (nowS - 300 + i * 15) * S, replicas }));
  return { recommendations, scaleUpEvents: [], scaleDownEvents: [] };
}
const input = (over: Partial<RecommendInput>): RecommendInput => ({
  now: 1_000 * S,
  currentReplicas: 10,
  cpuUtilizationPercent: 70,
  queueDepth: 50,
  config: POOL,
  history: steadyHistory(10, 1_000),
  ...over,
});

describe('seed numbers, verbatim', () => {
  it('exports them as named constants', () => {
    expect([
      seed.SEED_TARGET_CPU_UTILIZATION_PERCENTAGE,
      seed.SEED_QUEUE_DEPTH_SCALE_UP_PER_POD,
      seed.SEED_SCALE_UP_PERIOD_SECONDS,
      seed.SEED_SCALE_UP_PERCENT,
      seed.SEED_SCALE_UP_STABILIZATION_WINDOW_SECONDS,
      seed.SEED_SCALE_DOWN_CPU_UTILIZATION_PERCENTAGE,
      seed.SEED_QUEUE_DEPTH_SCALE_DOWN_PER_POD,
      seed.SEED_SCALE_DOWN_PERCENT,
      seed.SEED_SCALE_DOWN_PERIOD_SECONDS,
      seed.SEED_SCALE_DOWN_STABILIZATION_WINDOW_SECONDS,
    ]).toEqual([70, 10, 15, 100, 60, 30, 5, 10, 60, 300]);
    expect(seed.HPA_DEFAULT_TOLERANCE).toBe(0.1);
    expect(seed.HPA_DEFAULT_SYNC_PERIOD_SECONDS).toBe(15);
  });

  it('DEFAULT_BEHAVIOR and the resolved defaults are the seed', () => {
    expect(DEFAULT_BEHAVIOR).toEqual({
      scaleUp: {
        stabilizationWindowSeconds: 60,
        selectPolicy: 'Max',
        policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
      },
      scaleDown: {
        stabilizationWindowSeconds: 300,
        selectPolicy: 'Max',
        policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }],
      },
    });
    expect(resolveScalingConfig(POOL)).toEqual({
      minReplicas: 2,
      maxReplicas: 20,
      targetCPUUtilizationPercentage: 70,
      scaleDownCPUUtilizationPercentage: 30,
      queueDepthScaleUpPerPod: 10,
      queueDepthScaleDownPerPod: 5,
      tolerance: 0.1,
      scaleDownGate: true,
      behavior: DEFAULT_BEHAVIOR,
      metrics: ['cpu', 'queueDepth'],
    });
  });

  it('merges a partial behaviour field by field over the seed', () => {
    const c = resolveScalingConfig({ ...POOL, behavior: { scaleDown: { stabilizationWindowSeconds: 0 } } });
    expect(c.behavior.scaleDown).toEqual({ ...DEFAULT_BEHAVIOR.scaleDown, stabilizationWindowSeconds: 0 });
    expect(c.behavior.scaleUp).toEqual(DEFAULT_BEHAVIOR.scaleUp);
  });
});

describe('recommendReplicas', () => {
  it('scale up: max across metrics (queue depth wins here)', () => {
    const r = recommendReplicas(
      input({ cpuUtilizationPercent: 80, queueDepth: 150, history: steadyHistory(15, 1_000) }),
    );
    // cpu: ceil(10*80/70) = 12; depth: 150/(10*10) = 1.5 -> ceil(150/10) = 15
    expect(r.metricsDesired).toEqual({ cpu: 12, queueDepth: 15 });
    expect(r).toMatchObject({
      desiredReplicas: 15,
      reason: 'ScaleUp',
      message: 'external metric executor_pool_queue_depth above target',
    });
  });

  it('scale up: cpu wins, clamped at maxReplicas', () => {
    const r = recommendReplicas(
      input({ cpuUtilizationPercent: 500, queueDepth: 0, history: steadyHistory(99, 1_000) }),
    );
    expect(r.metricsDesired.cpu).toBe(72);
    expect(r).toMatchObject({ desiredReplicas: 20, reason: 'ScaleUp', limitedBy: 'TooManyReplicas' });
    expect(r.message).toMatch(/^cpu resource utilization/);
  });

  it('within tolerance nothing changes (cpu 76 % of 70 %, depth 105 for 10 pods)', () => {
    const r = recommendReplicas(input({ cpuUtilizationPercent: 76, queueDepth: 105 }));
    expect(r).toMatchObject({
      desiredReplicas: 10,
      reason: 'NoChange',
      metricsDesired: { cpu: 10, queueDepth: 10 },
    });
  });

  it('scale down needs CPU < 30 % AND depth < 5/pod (the seed gate)', () => {
    const history = steadyHistory(3, 1_000);
    expect(recommendReplicas(input({ cpuUtilizationPercent: 20, queueDepth: 49, history }))).toMatchObject({
      desiredReplicas: 9,
      reason: 'ScaleDown',
    });
    expect(recommendReplicas(input({ cpuUtilizationPercent: 20, queueDepth: 50, history }))).toMatchObject({
      desiredReplicas: 10,
      reason: 'ScaleDownGated',
    });
    expect(recommendReplicas(input({ cpuUtilizationPercent: 30, queueDepth: 0, history }))).toMatchObject({
      desiredReplicas: 10,
      reason: 'ScaleDownGated',
    });
    // without the gate the pure HPA would scale down on cpu 40 % (ceil(10*40/70) = 6)
    expect(
      recommendReplicas(
        input({
          cpuUtilizationPercent: 40,
          queueDepth: 0,
          history,
          config: { ...POOL, scaleDownGate: false },
        }),
      ),
    ).toMatchObject({
      desiredReplicas: 9,
      reason: 'ScaleDown',
      message: 'All metrics below target',
    });
  });

  it('a gated recommendation is recorded as the current count (it restarts the 300 s window)', () => {
    const r = recommendReplicas(
      input({ cpuUtilizationPercent: 40, queueDepth: 0, history: steadyHistory(3, 1_000) }),
    );
    expect(r.metricRecommendation).toBe(10);
    expect(r.history.recommendations.at(-1)).toEqual({ at: 1_000 * S, replicas: 10 });
  });

  it('scale down waits for the 300 s window', () => {
    const history = steadyHistory(3, 1_000);
    history.recommendations[0].replicas = 10; // 300 s ago: exactly at the cutoff → ignored
    expect(
      recommendReplicas(input({ cpuUtilizationPercent: 10, queueDepth: 0, history })).desiredReplicas,
    ).toBe(9);
    history.recommendations[1].replicas = 10; // 285 s ago → inside the window
    expect(recommendReplicas(input({ cpuUtilizationPercent: 10, queueDepth: 0, history }))).toMatchObject({
      desiredReplicas: 10,
      limitedBy: 'ScaleDownStabilized',
    });
  });

  describe('missing metrics never cause scale-down (HPA rule: a missing metric + would-scale-down = no action)', () => {
    it.each([
      [
        'cpu missing, queue empty',
        { cpuUtilizationPercent: undefined, queueDepth: 0 },
        'MissingMetricBlocksScaleDown',
      ],
      [
        'depth missing, cpu low',
        { cpuUtilizationPercent: 5, queueDepth: undefined },
        'MissingMetricBlocksScaleDown',
      ],
      [
        'depth null, cpu low',
        { cpuUtilizationPercent: 5, queueDepth: null as unknown as undefined },
        'MissingMetricBlocksScaleDown',
      ],
      ['both missing', { cpuUtilizationPercent: undefined, queueDepth: undefined }, 'MetricsUnavailable'],
    ])('%s', (_name, metrics, reason) => {
      const before = steadyHistory(1, 1_000);
      const r = recommendReplicas(input({ ...metrics, history: before }));
      expect(r).toMatchObject({ desiredReplicas: 10, reason });
      expect(r.history).toEqual(before); // like the HPA, nothing is recorded on a metrics error
    });

    it('a missing metric does not prevent scale-up on the other', () => {
      const r = recommendReplicas(
        input({ cpuUtilizationPercent: undefined, queueDepth: 200, history: steadyHistory(20, 1_000) }),
      );
      expect(r).toMatchObject({ desiredReplicas: 20, reason: 'ScaleUp', metricsDesired: { queueDepth: 20 } });
    });
  });

  describe("metrics: ['queueDepth'] (no metrics.k8s.io): CPU is not read, so it is never missing", () => {
    const depthOnly: ScalingConfig = { ...POOL, metrics: ['queueDepth'] };
    it('scales down on an empty queue without any CPU reading', () => {
      const r = recommendReplicas(
        input({
          config: depthOnly,
          cpuUtilizationPercent: undefined,
          queueDepth: 0,
          history: steadyHistory(1, 1_000),
        }),
      );
      expect(r).toMatchObject({ desiredReplicas: 9, reason: 'ScaleDown', metricsDesired: { queueDepth: 0 } });
    });
    it('ignores a CPU reading it was given (high CPU does not scale up, low CPU does not open the gate)', () => {
      const hot = recommendReplicas(
        input({
          config: depthOnly,
          cpuUtilizationPercent: 500,
          queueDepth: 100,
          history: steadyHistory(10, 1_000),
        }),
      );
      expect(hot).toMatchObject({ desiredReplicas: 10, metricsDesired: { queueDepth: 10 } });
      expect(hot.metricsDesired.cpu).toBeUndefined();
    });
    it('the gate still needs depth/pod below the low threshold', () => {
      const r = recommendReplicas(
        input({
          config: depthOnly,
          cpuUtilizationPercent: undefined,
          queueDepth: 60,
          history: steadyHistory(1, 1_000),
        }),
      );
      // 60 / 10 pods = 6 ≥ 5: gated, although ceil(60 / 10) = 6 < 10 pods
      expect(r).toMatchObject({ desiredReplicas: 10, reason: 'ScaleDownGated' });
      expect(r.message).toBe('metrics ask for 6 but scale-down needs queue depth < 5/pod');
    });
    it('a missing depth is "1 invalid out of 1"', () => {
      const r = recommendReplicas(
        input({ config: depthOnly, cpuUtilizationPercent: 5, queueDepth: undefined }),
      );
      expect(r).toMatchObject({ reason: 'MetricsUnavailable', desiredReplicas: 10 });
      expect(r.message).toBe('invalid metrics (1 invalid out of 1): no metric available');
    });
    it.each([[[]], [['queueDepth', 'queueDepth']], [['memory']]])('rejects metrics %j', (metrics) => {
      expect(() =>
        recommendReplicas(input({ config: { ...POOL, metrics: metrics as ScalingConfig['metrics'] } })),
      ).toThrow(InvalidScalingInputError);
    });
  });

  it('honours min and max before looking at metrics (and records the scale event)', () => {
    const below = recommendReplicas(
      input({ currentReplicas: 1, cpuUtilizationPercent: undefined, queueDepth: undefined }),
    );
    expect(below).toMatchObject({ desiredReplicas: 2, reason: 'BelowMinReplicas' });
    expect(below.history.scaleUpEvents).toEqual([{ at: 1_000 * S, change: 1, outdated: false }]);
    const above = recommendReplicas(input({ currentReplicas: 25 }));
    expect(above).toMatchObject({ desiredReplicas: 20, reason: 'AboveMaxReplicas' });
    expect(above.history.scaleDownEvents).toEqual([{ at: 1_000 * S, change: 5, outdated: false }]);
    expect(recommendReplicas(input({ currentReplicas: 0 }))).toMatchObject({
      desiredReplicas: 0,
      reason: 'ScalingDisabled',
    });
  });

  it('the first call (no history) records the current count, which holds scale-up for one window', () => {
    const first = recommendReplicas(input({ history: undefined, cpuUtilizationPercent: 140, queueDepth: 0 }));
    expect(first).toMatchObject({ desiredReplicas: 10, limitedBy: 'ScaleUpStabilized' });
    expect(first.history.recommendations).toEqual([
      { at: 1_000 * S, replicas: 10 },
      { at: 1_000 * S, replicas: 20 },
    ]);
    const later = recommendReplicas(
      input({ now: 1_060 * S, history: first.history, cpuUtilizationPercent: 140, queueDepth: 0 }),
    );
    expect(later.desiredReplicas).toBe(20);
  });

  it('never mutates its input; the history survives a JSON round trip', () => {
    const i = input({ cpuUtilizationPercent: 140, history: steadyHistory(20, 1_000) });
    const frozen = JSON.stringify(i);
    const r = recommendReplicas(i);
    expect(JSON.stringify(i)).toBe(frozen);
    const again = recommendReplicas({
      ...i,
      now: i.now + 15 * S,
      currentReplicas: r.desiredReplicas,
      history: JSON.parse(JSON.stringify(r.history)),
    });
    expect(again.desiredReplicas).toBe(20);
  });

  it.each([
    [{ currentReplicas: -1 }, /currentReplicas/],
    [{ currentReplicas: 2.5 }, /currentReplicas/],
    [{ cpuUtilizationPercent: -5 }, /cpuUtilizationPercent/],
    [{ queueDepth: Number.NaN }, /queueDepth/],
    [{ now: 'soon' as unknown as number }, /now/],
    [{ config: { minReplicas: 0, maxReplicas: 3 } }, /minReplicas/],
    [{ config: { minReplicas: 4, maxReplicas: 3 } }, /maxReplicas: must be >= minReplicas/],
    [{ config: { ...POOL, scaleDownCPUUtilizationPercentage: 80 } }, /scaleDownCPUUtilizationPercentage/],
    [{ config: { ...POOL, queueDepthScaleDownPerPod: 10 } }, /queueDepthScaleDownPerPod/],
    [
      {
        config: { ...POOL, behavior: { scaleUp: { selectPolicy: 'Sometimes' } } } as unknown as ScalingConfig,
      },
      /selectPolicy/,
    ],
    [{ config: { ...POOL, behavior: { scaleDown: { policies: [] } } } }, /policies/],
    [
      {
        config: {
          ...POOL,
          behavior: { scaleDown: { policies: [{ type: 'Percent', value: 10, periodSeconds: 3600 }] } },
        },
      },
      /periodSeconds/,
    ],
    [{ history: { recommendations: [] } as unknown as ScalingHistory }, /scaleUpEvents/],
  ])('rejects bad input %j with a clear error', (over, message) => {
    expect(() => recommendReplicas(input(over as Partial<RecommendInput>))).toThrow(InvalidScalingInputError);
    expect(() => recommendReplicas(input(over as Partial<RecommendInput>))).toThrow(message);
  });
});
