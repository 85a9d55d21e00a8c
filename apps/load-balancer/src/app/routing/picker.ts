import type { RegionDistances } from '../config/config';

/** Why a pool was chosen (label of the routing-decision metric). */
export const RoutingReason = {
  SameRegion: 'same_region',
  NearestRegion: 'nearest_region',
  AnyRegion: 'any_region',
  NoRegion: 'no_region',
} as const;
export type RoutingReason = (typeof RoutingReason)[keyof typeof RoutingReason];

/** What the picker needs to know about an eligible pool. */
export interface PoolCandidate {
  name: string;
  region: string;
  weight: number;
  /** Active sessions of the pool + in-flight requests of this replica to it. */
  connections: number;
}

export type Rng = () => number;

/** Above this many candidates, weighted power-of-two-choices replaces the full scan. */
export const P2C_THRESHOLD = 8;

/**
 * Keeps the pools of the preferred region: the requested region if any pool is there, else the
 * nearest region(s) by the distance table, else every pool.
 */
export function filterByRegion<T extends PoolCandidate>(
  candidates: readonly T[],
  region: string | undefined,
  distances: RegionDistances,
): { pools: T[]; reason: RoutingReason } {
  if (!region) return { pools: [...candidates], reason: RoutingReason.NoRegion };
  const same = candidates.filter((c) => c.region === region);
  if (same.length) return { pools: same, reason: RoutingReason.SameRegion };
  const row = distances[region] ?? {};
  let best = Infinity;
  for (const c of candidates) {
    const d = row[c.region];
    if (d !== undefined && d < best) best = d;
  }
  if (best < Infinity) {
    return { pools: candidates.filter((c) => row[c.region] === best), reason: RoutingReason.NearestRegion };
  }
  return { pools: [...candidates], reason: RoutingReason.AnyRegion };
}

const score = (c: PoolCandidate): number => c.connections / Math.max(c.weight, 1e-9);

/**
 * Weighted least-connections: the pool with the lowest connections ÷ weight (ties broken at
 * random). With more than {@link P2C_THRESHOLD} pools: power of two choices, the two candidates
 * drawn with probability proportional to weight, the lower score wins.
 */
export function pickWeightedLeastConnections<T extends PoolCandidate>(
  candidates: readonly T[],
  rng: Rng = Math.random,
): T | undefined {
  if (candidates.length === 0) return undefined;
  if (candidates.length === 1) return candidates[0];
  if (candidates.length > P2C_THRESHOLD) {
    const a = weightedDraw(candidates, rng);
    let b = weightedDraw(candidates, rng);
    for (let i = 0; b === a && i < 4; i++) b = weightedDraw(candidates, rng);
    const sa = score(a);
    const sb = score(b);
    return sa < sb ? a : sb < sa ? b : rng() < 0.5 ? a : b;
  }
  let best: T[] = [];
  let bestScore = Infinity;
  for (const c of candidates) {
    const s = score(c);
    if (s < bestScore) {
      bestScore = s;
      best = [c];
    } else if (s === bestScore) best.push(c);
  }
  return best[Math.floor(rng() * best.length)] ?? best[0];
}

function weightedDraw<T extends PoolCandidate>(candidates: readonly T[], rng: Rng): T {
  const total = candidates.reduce((n, c) => n + c.weight, 0);
  let r = rng() * total;
  for (const c of candidates) {
    r -= c.weight;
    if (r < 0) return c;
  }
  return candidates[candidates.length - 1] as T;
}

/** What the pod picker needs to know. */
export interface PodCandidate {
  pod: string;
  sessions: number;
  capacity: number;
  accepting: boolean;
}

/** The pod with the fewest sessions that still has capacity (ties at random); undefined if none. */
export function pickPod<T extends PodCandidate>(pods: readonly T[], rng: Rng = Math.random): T | undefined {
  let best: T[] = [];
  let least = Infinity;
  for (const p of pods) {
    if (!p.accepting || p.sessions >= p.capacity) continue;
    if (p.sessions < least) {
      least = p.sessions;
      best = [p];
    } else if (p.sessions === least) best.push(p);
  }
  return best[Math.floor(rng() * best.length)] ?? best[0];
}
