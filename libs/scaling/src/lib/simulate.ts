import { Type, type Static } from '@sinclair/typebox';
import { InvalidScalingInputError, assertSchema, resolveScalingConfig } from './config';
import { HPA_DEFAULT_SYNC_PERIOD_SECONDS } from './constants';
import type { LimitReason } from './hpa-algorithm';
import { recommendReplicas, type ScalingReason } from './recommend';
import {
  ScalingConfigSchema,
  type ResolvedScalingConfig,
  type ScalingConfig,
  type ScalingHistory,
} from './types';

/**
 * How the trace's `cpu` is read:
 * - `demand` (default): total CPU demand in pod-percent (200 = two pods' worth of their request);
 *   the utilization the HPA sees is `cpu / replicas`, so adding pods lowers it, as in a real pool.
 * - `utilization`: the average utilization itself (% of request), independent of the replica count.
 */
export const CpuMode = { Demand: 'demand', Utilization: 'utilization' } as const;
export type CpuMode = (typeof CpuMode)[keyof typeof CpuMode];

export const TracePointSchema = Type.Object(
  {
    /** Seconds since the start of the trace. */
    t: Type.Number({ minimum: 0 }),
    /** See {@link CpuMode}; `null`/absent = metric missing from this point on. */
    cpu: Type.Optional(Type.Union([Type.Number({ minimum: 0 }), Type.Null()])),
    /** Total jobs waiting in the pool's queue; `null`/absent = metric missing. */
    depth: Type.Optional(Type.Union([Type.Number({ minimum: 0 }), Type.Null()])),
  },
  { additionalProperties: false },
);
export type TracePoint = Static<typeof TracePointSchema>;

/** A trace file: the points, and optionally the config and simulation options it was written for. */
export const TraceFileSchema = Type.Object(
  {
    description: Type.Optional(Type.String()),
    config: Type.Optional(ScalingConfigSchema),
    initialReplicas: Type.Optional(Type.Integer({ minimum: 1 })),
    cpuMode: Type.Optional(Type.Union([Type.Literal('demand'), Type.Literal('utilization')])),
    points: Type.Array(TracePointSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type TraceFile = Static<typeof TraceFileSchema>;

export interface SimulateOptions {
  /** Controller sync period in seconds. Default 15 (the HPA default). */
  syncPeriodSeconds?: number;
  /** Replicas at the start. Default `config.minReplicas`. */
  initialReplicas?: number;
  /** Default `demand`. */
  cpuMode?: CpuMode;
  /** Last sync time in seconds. Default: the last trace point's `t`. */
  endSeconds?: number;
}

/** One controller sync. Field names follow HPA status: current (seen) and desired (set) replicas. */
export interface TimelineRow {
  /** Seconds since the start of the trace. */
  t: number;
  /** Replicas running when the controller synced. */
  replicas: number;
  /** Replicas the controller set (running until the next sync). */
  desired: number;
  /** CPU utilization the controller saw (% of request), `null` when missing. */
  cpu: number | null;
  /** Queue depth the controller saw (total jobs), `null` when missing. */
  depth: number | null;
  /** Max over the metrics after the gate (the raw recommendation), when computed. */
  recommendation: number | null;
  reason: ScalingReason;
  limitedBy: LimitReason | null;
}

const SimulateOptionsSchema = Type.Object(
  {
    syncPeriodSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    initialReplicas: Type.Optional(Type.Integer({ minimum: 1 })),
    cpuMode: Type.Optional(Type.Union([Type.Literal('demand'), Type.Literal('utilization')])),
    endSeconds: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);

/** Validates a trace (an array of points or a {@link TraceFile}) and returns it as a TraceFile. */
export function parseTrace(value: unknown): TraceFile {
  const file = Array.isArray(value) ? { points: value } : value;
  assertSchema(TraceFileSchema, file, 'trace');
  const trace = file as TraceFile;
  for (let i = 1; i < trace.points.length; i++) {
    if (trace.points[i].t <= trace.points[i - 1].t) {
      throw new InvalidScalingInputError(`invalid trace: /points/${i}/t: times must be strictly increasing`);
    }
  }
  return trace;
}

/** The trace point in effect at time `t` (the last one with `point.t <= t`; values hold until the next). */
function sampleAt(points: readonly TracePoint[], t: number): TracePoint {
  let current = points[0];
  for (const p of points) {
    if (p.t > t) break;
    current = p;
  }
  return current;
}

/**
 * Replays a load trace through {@link recommendReplicas}, one sync every `syncPeriodSeconds` from the
 * first point's `t` to the last; new replicas take effect immediately (no pod start-up delay).
 */
export function simulate(
  trace: readonly TracePoint[] | TraceFile,
  config: ScalingConfig | ResolvedScalingConfig,
  opts: SimulateOptions = {},
): TimelineRow[] {
  const file = parseTrace(trace);
  const resolved = resolveScalingConfig(config);
  assertSchema(SimulateOptionsSchema, opts, 'simulate options');
  const sync = opts.syncPeriodSeconds ?? HPA_DEFAULT_SYNC_PERIOD_SECONDS;
  const cpuMode = opts.cpuMode ?? CpuMode.Demand;
  const start = file.points[0].t;
  const end = opts.endSeconds ?? file.points[file.points.length - 1].t;
  let replicas = opts.initialReplicas ?? resolved.minReplicas;
  let history: ScalingHistory | undefined;
  const rows: TimelineRow[] = [];
  for (let step = 0; start + step * sync <= end; step++) {
    const t = start + step * sync;
    const point = sampleAt(file.points, t);
    const cpu =
      point.cpu == null ? null : cpuMode === CpuMode.Demand ? point.cpu / Math.max(replicas, 1) : point.cpu;
    const depth = point.depth ?? null;
    const rec = recommendReplicas({
      now: t * 1000,
      currentReplicas: replicas,
      cpuUtilizationPercent: cpu ?? undefined,
      queueDepth: depth ?? undefined,
      config: resolved,
      history,
    });
    rows.push({
      t,
      replicas,
      desired: rec.desiredReplicas,
      cpu,
      depth,
      recommendation: rec.metricRecommendation ?? null,
      reason: rec.reason,
      limitedBy: rec.limitedBy ?? null,
    });
    replicas = rec.desiredReplicas;
    history = rec.history;
  }
  return rows;
}

/** The timeline as a fixed-width text table. */
export function formatTimeline(rows: readonly TimelineRow[]): string {
  const header = ['t(s)', 'replicas', 'desired', 'cpu%', 'depth', 'rec', 'reason', 'limitedBy'];
  const body = rows.map((r) => [
    String(r.t),
    String(r.replicas),
    String(r.desired),
    r.cpu === null ? '-' : r.cpu.toFixed(1),
    r.depth === null ? '-' : String(r.depth),
    r.recommendation === null ? '-' : String(r.recommendation),
    r.reason,
    r.limitedBy ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padStart(i < 6 ? widths[i] : 0).padEnd(i < 6 ? 0 : widths[i]))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
