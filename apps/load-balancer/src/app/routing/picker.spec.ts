import {
  RoutingReason,
  filterByRegion,
  pickPod,
  pickWeightedLeastConnections,
  type PoolCandidate,
} from './picker';

/** Deterministic PRNG (mulberry32) so the statistics are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Each pick opens one connection on the chosen pool, as a session create does. */
function simulate(pools: PoolCandidate[], picks: number, rng: () => number): Map<string, number> {
  const counts = new Map(pools.map((p) => [p.name, 0]));
  for (let i = 0; i < picks; i++) {
    const p = pickWeightedLeastConnections(pools, rng);
    if (!p) throw new Error('no pick');
    p.connections++;
    counts.set(p.name, (counts.get(p.name) ?? 0) + 1);
  }
  return counts;
}

function expectWithinShare(
  counts: Map<string, number>,
  pools: PoolCandidate[],
  picks: number,
  tolerance: number,
): void {
  const total = pools.reduce((n, p) => n + p.weight, 0);
  for (const p of pools) {
    const expected = (picks * p.weight) / total;
    const got = counts.get(p.name) ?? 0;
    expect(Math.abs(got - expected) / expected).toBeLessThanOrEqual(tolerance);
  }
}

const pool = (name: string, weight: number, region = 'eu', connections = 0): PoolCandidate => ({
  name,
  weight,
  region,
  connections,
});

describe('pickWeightedLeastConnections', () => {
  it('respects weights within 5% over 10 000 picks (full scan, 3 pools)', () => {
    const pools = [pool('a', 1), pool('b', 3), pool('c', 6)];
    expectWithinShare(simulate(pools, 10_000, seeded(1)), pools, 10_000, 0.05);
  });

  it('respects weights within 5% over 10 000 picks (power of two choices, 20 pools)', () => {
    const pools = Array.from({ length: 20 }, (_, i) => pool(`p${i}`, 1 + (i % 5) * 2));
    expectWithinShare(simulate(pools, 10_000, seeded(7)), pools, 10_000, 0.05);
  });

  it('prefers the pool with the fewest connections per weight', () => {
    const pools = [pool('busy', 1, 'eu', 10), pool('idle', 1, 'eu', 2), pool('big', 10, 'eu', 30)];
    expect(pickWeightedLeastConnections(pools, seeded(3))?.name).toBe('idle');
    pools[1] = pool('idle', 1, 'eu', 4);
    expect(pickWeightedLeastConnections(pools, seeded(3))?.name).toBe('big');
  });

  it('breaks ties at random and returns undefined for no candidates', () => {
    const pools = [pool('a', 1), pool('b', 1)];
    const seen = new Set<string>();
    const rng = seeded(11);
    for (let i = 0; i < 50; i++) seen.add(pickWeightedLeastConnections(pools, rng)?.name ?? '');
    expect(seen).toEqual(new Set(['a', 'b']));
    expect(pickWeightedLeastConnections([])).toBeUndefined();
  });
});

describe('filterByRegion', () => {
  const distances = {
    'eu-west': { 'eu-central': 1, 'us-east': 5 },
    'eu-central': { 'eu-west': 1 },
    'us-east': { 'eu-west': 5 },
  };
  const pools = [
    pool('w', 1, 'eu-west'),
    pool('c', 1, 'eu-central'),
    pool('u', 1, 'us-east'),
    pool('u2', 1, 'us-east'),
  ];

  it('keeps the requested region when a pool is there', () => {
    expect(filterByRegion(pools, 'us-east', distances)).toEqual({
      pools: [pools[2], pools[3]],
      reason: RoutingReason.SameRegion,
    });
  });

  it('falls back to the nearest region by the distance table', () => {
    const r = filterByRegion([pools[1], pools[2]] as PoolCandidate[], 'eu-west', distances);
    expect(r).toEqual({ pools: [pools[1]], reason: RoutingReason.NearestRegion });
  });

  it('falls back to any region when no distance is known, and keeps all without a region', () => {
    expect(filterByRegion(pools, 'ap-south', distances)).toEqual({ pools, reason: RoutingReason.AnyRegion });
    expect(filterByRegion(pools, undefined, distances)).toEqual({ pools, reason: RoutingReason.NoRegion });
  });
});

describe('pickPod', () => {
  const pod = (name: string, sessions: number, capacity = 10, accepting = true) => ({
    pod: name,
    sessions,
    capacity,
    accepting,
  });

  it('picks the pod with the fewest sessions that has capacity and accepts', () => {
    expect(pickPod([pod('a', 5), pod('b', 2), pod('c', 0, 0), pod('d', 1, 10, false)])?.pod).toBe('b');
  });

  it('returns undefined when every pod is full or draining', () => {
    expect(pickPod([pod('a', 10), pod('b', 1, 10, false)])).toBeUndefined();
  });
});
