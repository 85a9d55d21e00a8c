import {
  calculateScaleDownLimit,
  calculateScaleUpLimit,
  convertDesiredReplicasWithBehaviorRate,
  externalPerPodReplicas,
  replicasChangePerPeriod,
  resourceUtilizationReplicas,
  stabilizeRecommendation,
  storeScaleEvent,
} from './hpa-algorithm';
import { DEFAULT_BEHAVIOR } from './config';
import type { ScalingRules, TimestampedScaleEvent } from './types';

const S = 1000;
const ev = (atS: number, change: number): TimestampedScaleEvent => ({ at: atS * S, change, outdated: false });

describe('replica calculator (replica_calculator.go, tolerance 0.1)', () => {
  it.each([
    // current, utilization, target, expected
    [4, 70, 70, 4], // at target
    [4, 77, 70, 5], // 77/70 = 1.1 (+float error) -> just outside tolerance, upstream scales too
    [4, 76, 70, 4], // within tolerance
    [4, 64, 70, 4], // 0.914 within tolerance
    [4, 62, 70, 4], // 0.886 -> outside -> ceil(3.54) = 4
    [10, 40, 70, 6], // ceil(5.71)
    [2, 1000, 70, 29], // ceil(28.57)
    [3, 76.9, 70, 3], // utilization is truncated to whole percent (76) like upstream
  ])('cpu: %i pods at %d%% of a %d%% target -> %i', (current, util, target, expected) => {
    expect(resourceUtilizationReplicas(current, util, target, 0.1)).toBe(expected);
  });

  it.each([
    // replicas, depth, target per pod, expected
    [2, 20, 10, 2], // exactly on target
    [2, 21, 10, 2], // ratio 1.05, within tolerance
    [2, 120, 10, 12], // ceil(120/10)
    [4, 45, 10, 5], // ratio 1.125 -> ceil(4.5)
    [10, 0, 10, 0], // empty queue asks for 0 (clamped to min later)
  ])('queue depth: %i pods, %i jobs, %i/pod target -> %i', (replicas, depth, target, expected) => {
    expect(externalPerPodReplicas(replicas, depth, target, 0.1)).toBe(expected);
  });
});

describe('stabilizeRecommendation (stabilizeRecommendationWithBehaviors)', () => {
  const up = DEFAULT_BEHAVIOR.scaleUp;
  const down = DEFAULT_BEHAVIOR.scaleDown;

  it('scale-up uses the MIN recommendation of the 60 s window (strictly after now − 60 s)', () => {
    const recs = [
      { at: 0, replicas: 2 },
      { at: 15 * S, replicas: 2 },
      { at: 30 * S, replicas: 8 },
    ];
    expect(stabilizeRecommendation(60 * S, 2, 8, recs, up, down).recommendation).toBe(2);
    expect(stabilizeRecommendation(75 * S, 2, 8, recs, up, down).recommendation).toBe(8); // 15 s sample is exactly at the cutoff: out
  });

  it('scale-down uses the MAX recommendation of the 300 s window', () => {
    const recs = [
      { at: 0, replicas: 10 },
      { at: 100 * S, replicas: 3 },
    ];
    expect(stabilizeRecommendation(299 * S, 10, 3, recs, up, down).recommendation).toBe(10);
    expect(stabilizeRecommendation(300 * S, 10, 3, recs, up, down).recommendation).toBe(3);
  });

  it('replaces one sample older than both windows, else appends; never mutates its input', () => {
    const recs = [
      { at: 0, replicas: 1 },
      { at: 1 * S, replicas: 2 },
    ];
    const frozen = JSON.stringify(recs);
    const a = stabilizeRecommendation(100 * S, 2, 5, recs, up, down);
    expect(a.recommendations).toHaveLength(3);
    const b = stabilizeRecommendation(400 * S, 2, 5, recs, up, down);
    expect(b.recommendations).toEqual([
      { at: 0, replicas: 1 },
      { at: 400 * S, replicas: 5 },
    ]);
    expect(JSON.stringify(recs)).toBe(frozen);
  });
});

describe('rate limits (calculateScale{Up,Down}Limit…)', () => {
  const percentUp: ScalingRules = {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
  };
  const mixedUp = (select: ScalingRules['selectPolicy']): ScalingRules => ({
    stabilizationWindowSeconds: 0,
    selectPolicy: select,
    policies: [
      { type: 'Percent', value: 100, periodSeconds: 15 },
      { type: 'Pods', value: 4, periodSeconds: 15 },
    ],
  });

  it('+100% per 15 s counts from the replica count at the start of the period', () => {
    expect(calculateScaleUpLimit(100 * S, 4, [], [], percentUp)).toBe(8);
    expect(calculateScaleUpLimit(100 * S, 4, [ev(90, 2)], [], percentUp)).toBe(4); // 2 added 10 s ago: period started at 2
    expect(calculateScaleUpLimit(100 * S, 4, [ev(85, 2)], [], percentUp)).toBe(8); // exactly 15 s ago: outside
    expect(calculateScaleUpLimit(100 * S, 4, [], [ev(95, 1)], percentUp)).toBe(10); // a scale-down in the period raises the start
  });

  it('selectPolicy Max picks the largest change, Min the smallest, Disabled none', () => {
    expect(calculateScaleUpLimit(0, 2, [], [], mixedUp('Max'))).toBe(6); // max(4, 2+4)
    expect(calculateScaleUpLimit(0, 10, [], [], mixedUp('Max'))).toBe(20);
    expect(calculateScaleUpLimit(0, 10, [], [], mixedUp('Min'))).toBe(14);
    expect(calculateScaleUpLimit(0, 10, [], [], mixedUp('Disabled'))).toBe(10);
  });

  it('−10% per 60 s truncates like Go int32()', () => {
    const down = DEFAULT_BEHAVIOR.scaleDown;
    expect(calculateScaleDownLimit(0, 20, [], [], down)).toBe(18);
    expect(calculateScaleDownLimit(0, 5, [], [], down)).toBe(4); // 4.5 -> 4
    expect(calculateScaleDownLimit(0, 2, [], [], down)).toBe(1);
    expect(calculateScaleDownLimit(100 * S, 18, [], [ev(50, 2)], down)).toBe(18); // period started at 20
    const minSelect: ScalingRules = {
      stabilizationWindowSeconds: 0,
      selectPolicy: 'Min',
      policies: [
        { type: 'Percent', value: 50, periodSeconds: 60 },
        { type: 'Pods', value: 1, periodSeconds: 60 },
      ],
    };
    expect(calculateScaleDownLimit(0, 10, [], [], minSelect)).toBe(9);
    expect(calculateScaleDownLimit(0, 10, [], [], { ...minSelect, selectPolicy: 'Max' })).toBe(5);
  });

  it('convertDesiredReplicasWithBehaviorRate reports which bound applied', () => {
    const base = {
      now: 0,
      minReplicas: 2,
      maxReplicas: 20,
      scaleUp: percentUp,
      scaleDown: DEFAULT_BEHAVIOR.scaleDown,
      scaleUpEvents: [],
      scaleDownEvents: [],
    };
    expect(
      convertDesiredReplicasWithBehaviorRate({ ...base, currentReplicas: 4, desiredReplicas: 29 }),
    ).toEqual({ replicas: 8, limitedBy: 'ScaleUpLimit' });
    expect(
      convertDesiredReplicasWithBehaviorRate({ ...base, currentReplicas: 16, desiredReplicas: 29 }),
    ).toEqual({ replicas: 20, limitedBy: 'TooManyReplicas' });
    expect(
      convertDesiredReplicasWithBehaviorRate({ ...base, currentReplicas: 20, desiredReplicas: 3 }),
    ).toEqual({ replicas: 18, limitedBy: 'ScaleDownLimit' });
    expect(
      convertDesiredReplicasWithBehaviorRate({ ...base, currentReplicas: 2, desiredReplicas: 1 }),
    ).toEqual({ replicas: 2, limitedBy: 'TooFewReplicas' }); // limit 1 < min 2
    expect(
      convertDesiredReplicasWithBehaviorRate({
        ...base,
        minReplicas: 1,
        currentReplicas: 3,
        desiredReplicas: 1,
      }),
    ).toEqual({ replicas: 2, limitedBy: 'ScaleDownLimit' }); // trunc(2.7)
    expect(
      convertDesiredReplicasWithBehaviorRate({
        ...base,
        minReplicas: 3,
        currentReplicas: 3,
        desiredReplicas: 1,
        scaleDown: {
          ...DEFAULT_BEHAVIOR.scaleDown,
          policies: [{ type: 'Percent', value: 100, periodSeconds: 60 }],
        },
      }),
    ).toEqual({ replicas: 3, limitedBy: 'TooFewReplicas' });
    expect(
      convertDesiredReplicasWithBehaviorRate({ ...base, currentReplicas: 5, desiredReplicas: 6 }),
    ).toEqual({ replicas: 6 });
  });
});

describe('storeScaleEvent', () => {
  it('reuses the slot of an outdated event, keeps recent ones', () => {
    const rules = DEFAULT_BEHAVIOR.scaleUp; // longest period 15 s
    const a = storeScaleEvent(10 * S, [], 2, rules);
    const b = storeScaleEvent(20 * S, a, 4, rules);
    expect(b).toHaveLength(2);
    const c = storeScaleEvent(40 * S, b, 8, rules); // both older than 15 s: last outdated slot reused
    expect(c).toEqual([
      { at: 10 * S, change: 2, outdated: true },
      { at: 40 * S, change: 8, outdated: false },
    ]);
    expect(replicasChangePerPeriod(41 * S, 15, c)).toBe(8);
  });
});
