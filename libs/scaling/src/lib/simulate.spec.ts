import { InvalidScalingInputError } from './config';
import { formatTimeline, parseTrace, simulate, type TimelineRow, type TracePoint } from './simulate';
import type { ScalingConfig } from './types';

const POOL: ScalingConfig = { minReplicas: 2, maxReplicas: 20 };
const at = (rows: TimelineRow[], t: number): TimelineRow => {
  const row = rows.find((r) => r.t === t);
  if (!row) throw new Error(`no sync at t=${t}`);
  return row;
};

/**
 * The spike trace. CPU is demand in pod-percent (utilization = demand / replicas).
 *   t < 60      demand 100 (2 pods at 50 %), depth 0
 *   60..299     demand 2000, depth 120
 *   ≥ 300       demand 200, depth 0
 */
const SPIKE: TracePoint[] = [
  { t: 0, cpu: 100, depth: 0 },
  { t: 60, cpu: 2000, depth: 120 },
  { t: 300, cpu: 200, depth: 0 },
  { t: 1200, cpu: 200, depth: 0 },
];

describe('simulate: spike, compared step by step with a hand-computed HPA timeline', () => {
  /*
   * Hand computation (sync every 15 s; windows: up 60 s = MIN of raw recommendations strictly after
   * now−60; down 300 s = MAX strictly after now−300; rate: +100 % of the replica count at the start of the
   * last 15 s, −10 % (truncated) of the count at the start of the last 60 s; events exactly one period
   * old are outside the period).
   *
   *   t    cur  util%  cpu→       depth→        raw  up-window min        down max  stabilized  rate limit            desired
   *   0    2    50     ceil(2*50/70)=2  0→ceil(0/10)=0   2    init rec {2@0}       2         2           -                     2
   *   15   2    50     2          0             2    2                    2         2           -                     2
   *   30   2    50     2          0             2    2                    2         2           -                     2
   *   45   2    50     2          0             2    2                    2         2           -                     2
   *   60   2    1000   ceil(2*1000/70)=29  120→12  29   min(2@15,2@30,2@45,29)=2  29  2   (ScaleUpStabilized)      2
   *   75   2    1000   29         12            29   min(2@30,2@45,…)=2   29        2           -                     2
   *   90   2    1000   29         12            29   min(2@45,…)=2        29        2           -                     2
   *   105  2    1000   29         12            29   2@45 is at the cutoff → 29     29        29          ceil(2*2)=4           4  ScaleUpLimit
   *   120  4    500    ceil(4*500/70)=29  12     29   29                   29        29          event@105 at cutoff → 8  8  ScaleUpLimit
   *   135  8    250    29         12            29   29                   29        29          16                    16 ScaleUpLimit
   *   150  16   125    29         12            29   29                   29        29          min(32, max 20)       20 TooManyReplicas
   *   165  20   100    29         12            29   29                   29        29          max 20                20 (no change)
   *   300  20   10     ceil(20*10/70)=3  0→0     3    3                    29 (@285) 20          -                     20 ScaleDownStabilized
   *   570  20   10     3          0             3    3                    29 (@285) 20          -                     20
   *   585  20   10     3          0             3    3                    3 (285 at cutoff)  3  trunc(20*0.9)=18      18 ScaleDownLimit
   *   600  18   11.1   ceil(18*11/70)=3  0       3    3                    3         3           start 18+2=20 → 18    18
   *   645  18   11.1   3          0             3    3                    3         3           event@585 at cutoff → trunc(16.2)=16  16
   *   705  16   12.5   3                        3                                   3           trunc(14.4)=14        14
   *   765  14 → 12 (12.6),  825  12 → 10 (10.8),  885  10 → 9,  945  9 → 8 (8.1),  1005  8 → 7 (7.2),  1065  7 → 6 (6.3)
   *   1080 6    33.3   33 % is not < 30 % → scale-down gate holds 6 (ScaleDownGated) from here on.
   */
  const expected: Array<
    [t: number, replicas: number, desired: number, reason: string, limitedBy: string | null]
  > = [
    [0, 2, 2, 'NoChange', null],
    [15, 2, 2, 'NoChange', null],
    [30, 2, 2, 'NoChange', null],
    [45, 2, 2, 'NoChange', null],
    [60, 2, 2, 'NoChange', 'ScaleUpStabilized'],
    [75, 2, 2, 'NoChange', 'ScaleUpStabilized'],
    [90, 2, 2, 'NoChange', 'ScaleUpStabilized'],
    [105, 2, 4, 'ScaleUp', 'ScaleUpLimit'],
    [120, 4, 8, 'ScaleUp', 'ScaleUpLimit'],
    [135, 8, 16, 'ScaleUp', 'ScaleUpLimit'],
    [150, 16, 20, 'ScaleUp', 'TooManyReplicas'],
    [165, 20, 20, 'NoChange', 'TooManyReplicas'],
    [300, 20, 20, 'NoChange', 'ScaleDownStabilized'],
    [570, 20, 20, 'NoChange', 'ScaleDownStabilized'],
    [585, 20, 18, 'ScaleDown', 'ScaleDownLimit'],
    [600, 18, 18, 'NoChange', 'ScaleDownLimit'],
    [630, 18, 18, 'NoChange', 'ScaleDownLimit'],
    [645, 18, 16, 'ScaleDown', 'ScaleDownLimit'],
    [705, 16, 14, 'ScaleDown', 'ScaleDownLimit'],
    [765, 14, 12, 'ScaleDown', 'ScaleDownLimit'],
    [825, 12, 10, 'ScaleDown', 'ScaleDownLimit'],
    [885, 10, 9, 'ScaleDown', 'ScaleDownLimit'],
    [945, 9, 8, 'ScaleDown', 'ScaleDownLimit'],
    [1005, 8, 7, 'ScaleDown', 'ScaleDownLimit'],
    [1065, 7, 6, 'ScaleDown', 'ScaleDownLimit'],
    [1080, 6, 6, 'ScaleDownGated', null],
    [1200, 6, 6, 'ScaleDownGated', null],
  ];
  const rows = simulate(SPIKE, POOL);

  it.each(expected)('t=%i: %i -> %i (%s, %s)', (t, replicas, desired, reason, limitedBy) => {
    expect(at(rows, t)).toMatchObject({ replicas, desired, reason, limitedBy });
  });

  it('syncs every 15 s and changes replicas only at the hand-computed syncs', () => {
    expect(rows.map((r) => r.t)).toEqual(Array.from({ length: 81 }, (_, i) => i * 15));
    const changes = rows.filter((r) => r.desired !== r.replicas).map((r) => [r.t, r.desired]);
    expect(changes).toEqual([
      [105, 4],
      [120, 8],
      [135, 16],
      [150, 20],
      [585, 18],
      [645, 16],
      [705, 14],
      [765, 12],
      [825, 10],
      [885, 9],
      [945, 8],
      [1005, 7],
      [1065, 6],
    ]);
  });

  it('the spike doubles replicas every 15 s until max', () => {
    const up = rows.filter((r) => r.reason === 'ScaleUp');
    for (const r of up.slice(0, -1)) expect(r.desired).toBe(r.replicas * 2);
    expect(up[up.length - 1].desired).toBe(POOL.maxReplicas);
  });

  it('the drop scales down only after 300 s, then by at most 10 % per 60 s', () => {
    const downs = rows.filter((r) => r.reason === 'ScaleDown');
    expect(downs[0].t - 285).toBe(300); // 285 = last sync that saw the spike
    for (let i = 1; i < downs.length; i++) {
      expect(downs[i].t - downs[i - 1].t).toBeGreaterThanOrEqual(60);
      expect(downs[i].desired).toBeGreaterThanOrEqual(Math.trunc(downs[i].replicas * 0.9));
    }
  });

  it('without the scale-down gate (the pure HPA, as toHpaSpec deploys it) it goes down to 3', () => {
    const pure = simulate(SPIKE, { ...POOL, scaleDownGate: false }, { endSeconds: 1500 });
    expect(at(pure, 1080)).toMatchObject({ replicas: 6, desired: 6, reason: 'NoChange' }); // rate: 7→6 at 1065
    expect(at(pure, 1125)).toMatchObject({ replicas: 6, desired: 5 });
    expect(pure[pure.length - 1].desired).toBe(3);
  });
});

describe('simulate: flapping load does not flap replicas', () => {
  // sustained load 60..239 s, then high/low alternating every 45 s until 840 s, then low
  const points: TracePoint[] = [
    { t: 0, cpu: 150, depth: 2 },
    { t: 60, cpu: 420, depth: 30 },
  ];
  for (let t = 240, high = false; t < 840; t += 45, high = !high)
    points.push({ t, cpu: high ? 420 : 90, depth: high ? 30 : 1 });
  points.push({ t: 840, cpu: 90, depth: 1 }, { t: 1500, cpu: 90, depth: 1 });
  const rows = simulate(points, POOL, { initialReplicas: 3 });

  it('scales up once and holds while the load flaps', () => {
    const changes = rows.filter((r) => r.desired !== r.replicas);
    expect(changes[0]).toMatchObject({ t: 105, replicas: 3, desired: 6 });
    expect(rows.filter((r) => r.t > 105 && r.t < 1125).every((r) => r.desired === 6)).toBe(true);
  });

  it('starts scaling down 300 s after the last high sample (825 s)', () => {
    const firstDown = rows.find((r) => r.desired < r.replicas);
    expect(firstDown).toMatchObject({ t: 1125, replicas: 6, desired: 5 });
  });

  it('a short burst (shorter than the 60 s scale-up window) causes no scale-up', () => {
    const burst: TracePoint[] = [
      { t: 0, cpu: 100, depth: 0 },
      { t: 300, cpu: 1000, depth: 100 },
      { t: 345, cpu: 100, depth: 0 },
      { t: 900, cpu: 100, depth: 0 },
    ];
    expect(simulate(burst, POOL).every((r) => r.desired === 2)).toBe(true);
  });
});

describe('simulate: min/max and missing metrics', () => {
  it('never goes below min or above max', () => {
    const rows = simulate(
      [
        { t: 0, cpu: 5000, depth: 1000 },
        { t: 400, cpu: 0, depth: 0 },
        { t: 2000, cpu: 0, depth: 0 },
      ],
      { minReplicas: 3, maxReplicas: 7 },
    );
    expect(Math.max(...rows.map((r) => r.desired))).toBe(7);
    expect(Math.min(...rows.map((r) => r.desired))).toBe(3);
    expect(rows[rows.length - 1].desired).toBe(3);
  });

  it('missing metrics never cause a scale-down', () => {
    const rows = simulate(
      [
        { t: 0, cpu: 2000, depth: 100 },
        { t: 200, cpu: null, depth: 0 }, // cpu missing, queue empty
        { t: 800, cpu: 10, depth: null }, // depth missing, cpu low
        { t: 1400, cpu: null, depth: null },
        { t: 2000, cpu: null, depth: null },
      ],
      POOL,
    );
    const peak = Math.max(...rows.map((r) => r.desired));
    expect(peak).toBe(20);
    expect(rows.filter((r) => r.t >= 200).every((r) => r.desired === peak)).toBe(true);
    expect(at(rows, 300).reason).toBe('MissingMetricBlocksScaleDown');
    expect(at(rows, 900).reason).toBe('MissingMetricBlocksScaleDown');
    expect(at(rows, 1500).reason).toBe('MetricsUnavailable');
  });

  it('cpuMode utilization reads cpu as the utilization itself', () => {
    const rows = simulate(
      [
        { t: 0, cpu: 140, depth: 0 },
        { t: 240, cpu: 140, depth: 0 },
      ],
      POOL,
      { cpuMode: 'utilization' },
    );
    expect(rows.map((r) => r.cpu)).toEqual(Array(17).fill(140));
    // A utilization that ignores the replica count makes every raw recommendation 2×current, so the
    // 60 s MIN window only admits a doubling once all samples of the previous size have left it.
    expect(rows.filter((r) => r.desired !== r.replicas).map((r) => [r.t, r.desired])).toEqual([
      [60, 4],
      [120, 8],
      [180, 16],
      [240, 20],
    ]);
  });
});

describe('simulate: input validation', () => {
  it.each([
    [[], /points/],
    [[{ t: 0, cpu: -1 }], /cpu/],
    [[{ t: 10 }, { t: 5 }], /strictly increasing/],
    [[{ t: 0, cpu: 1, extra: 1 }], /points\/0/],
    [{ points: [{ t: 0 }], config: { minReplicas: 0, maxReplicas: 1 } }, /minReplicas/],
  ])('rejects trace %j', (trace, message) => {
    expect(() => parseTrace(trace)).toThrow(InvalidScalingInputError);
    expect(() => parseTrace(trace)).toThrow(message);
  });

  it('rejects bad options and configs', () => {
    expect(() => simulate(SPIKE, POOL, { syncPeriodSeconds: 0 })).toThrow(/syncPeriodSeconds/);
    expect(() => simulate(SPIKE, { minReplicas: 5, maxReplicas: 2 })).toThrow(/maxReplicas/);
  });

  it('formats a table with one line per sync', () => {
    const table = formatTimeline(simulate(SPIKE, POOL, { endSeconds: 120 }));
    const lines = table.split('\n');
    expect(lines[0]).toMatch(/^t\(s\)\s+replicas\s+desired\s+cpu%\s+depth\s+rec\s+reason\s+limitedBy$/);
    expect(lines).toHaveLength(2 + 9);
    expect(lines[9]).toMatch(/^\s*105\s+2\s+4\s+1000\.0\s+120\s+29\s+ScaleUp\s+ScaleUpLimit$/);
  });
});
