import { Value } from '@sinclair/typebox/value';
import {
  ConditionSchema,
  PoolConditionReason,
  PoolConditionType,
  getCondition,
  isConditionTrue,
  setCondition,
} from '../index';

describe('setCondition', () => {
  const t0 = new Date('2026-11-26T06:00:00.000Z');
  const t1 = new Date('2026-11-26T06:05:00.500Z');

  it('adds a condition with a seconds-precision RFC 3339 time that the schema accepts', () => {
    const list = setCondition(
      undefined,
      { type: PoolConditionType.Ready, status: 'False', reason: PoolConditionReason.Reconciling },
      t0,
    );
    expect(list).toEqual([
      { type: 'Ready', status: 'False', reason: 'Reconciling', lastTransitionTime: '2026-11-26T06:00:00Z' },
    ]);
    expect(Value.Check(ConditionSchema, list[0])).toBe(true);
  });

  it('keeps lastTransitionTime while the status is unchanged and moves it when it changes', () => {
    const a = setCondition([], { type: 'Ready', status: 'False', reason: 'Reconciling' }, t0);
    const b = setCondition(
      a,
      { type: 'Ready', status: 'False', reason: 'PodsUnavailable', message: '0/2', observedGeneration: 2 },
      t1,
    );
    expect(b).toEqual([
      {
        type: 'Ready',
        status: 'False',
        reason: 'PodsUnavailable',
        message: '0/2',
        observedGeneration: 2,
        lastTransitionTime: '2026-11-26T06:00:00Z',
      },
    ]);
    const c = setCondition(b, { type: 'Ready', status: 'True', reason: 'PodsAvailable' }, t1);
    expect(getCondition(c, 'Ready')?.lastTransitionTime).toBe('2026-11-26T06:05:00Z');
    expect(isConditionTrue(c, 'Ready')).toBe(true);
    expect(isConditionTrue(b, 'Ready')).toBe(false);
    expect(a).toHaveLength(1); // inputs untouched
    expect(a[0].reason).toBe('Reconciling');
  });

  it('keeps other conditions in order', () => {
    let list = setCondition([], { type: 'Ready', status: 'True', reason: 'PodsAvailable' }, t0);
    list = setCondition(list, { type: 'Degraded', status: 'False', reason: 'AsExpected' }, t0);
    list = setCondition(list, { type: 'Ready', status: 'False', reason: 'InvalidSpec' }, t1);
    expect(list.map((c) => `${c.type}=${c.status}`)).toEqual(['Ready=False', 'Degraded=False']);
    expect(getCondition(list, 'Scaling')).toBeUndefined();
  });
});
