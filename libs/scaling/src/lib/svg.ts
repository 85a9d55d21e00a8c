import type { TimelineRow } from './simulate';

export interface SvgOptions {
  title?: string;
  width?: number;
  height?: number;
  minReplicas?: number;
  maxReplicas?: number;
}

const COLORS = {
  replicas: '#1f77b4',
  cpu: '#ff7f0e',
  depth: '#2ca02c',
  bound: '#999999',
  axis: '#333333',
  grid: '#e5e5e5',
};

/** Escapes text for XML content and attribute values. */
export function escapeXml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** A "nice" axis maximum and tick step for values up to `max`. */
export function niceScale(max: number, ticks = 5): { max: number; step: number } {
  if (!(max > 0)) return { max: 1, step: 1 };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  return { max: Math.ceil(max / step) * step, step };
}

const fmt = (n: number): string => String(Math.round(n * 100) / 100);

/** Step path ("hold the value until the next sample") through the given points. */
function stepPath(points: Array<[number, number]>, xEnd: number): string {
  if (points.length === 0) return '';
  const parts = [`M${fmt(points[0][0])},${fmt(points[0][1])}`];
  for (let i = 1; i < points.length; i++) parts.push(`H${fmt(points[i][0])}`, `V${fmt(points[i][1])}`);
  parts.push(`H${fmt(xEnd)}`);
  return parts.join(' ');
}

/** Splits rows into runs where `value` is defined (a missing metric leaves a gap in the line). */
function runs(
  rows: readonly TimelineRow[],
  value: (r: TimelineRow) => number | null,
): Array<Array<[number, number]>> {
  const out: Array<Array<[number, number]>> = [];
  let run: Array<[number, number]> = [];
  for (const r of rows) {
    const v = value(r);
    if (v === null) {
      if (run.length) out.push(run);
      run = [];
    } else run.push([r.t, v]);
  }
  if (run.length) out.push(run);
  return out;
}

/**
 * An SVG chart of a simulation: replicas (desired, step line, left axis) and load (CPU utilization %
 * and queue depth, right axis) over time, with axes, grid, min/max dashed lines and a legend.
 * Plain string building, no dependencies.
 */
export function renderTimelineSvg(rows: readonly TimelineRow[], opts: SvgOptions = {}): string {
  const width = opts.width ?? 960;
  const height = opts.height ?? 440;
  const m = { top: 64, right: 72, bottom: 56, left: 64 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const t0 = rows.length ? rows[0].t : 0;
  const t1 = rows.length > 1 ? rows[rows.length - 1].t : t0 + 1;
  const x = (t: number): number => m.left + ((t - t0) / (t1 - t0)) * plotW;
  const repScale = niceScale(
    Math.max(opts.maxReplicas ?? 0, ...rows.map((r) => Math.max(r.desired, r.replicas))),
  );
  const loadScale = niceScale(Math.max(0, ...rows.map((r) => Math.max(r.cpu ?? 0, r.depth ?? 0))));
  const yRep = (v: number): number => m.top + plotH - (v / repScale.max) * plotH;
  const yLoad = (v: number): number => m.top + plotH - (v / loadScale.max) * plotH;
  const tScale = niceScale(t1 - t0, 8);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(opts.title ?? 'Autoscaling simulation')}</text>`,
  );
  // grid + left axis ticks (replicas)
  for (let v = 0; v <= repScale.max + 1e-9; v += repScale.step) {
    const y = fmt(yRep(v));
    out.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + plotW}" y2="${y}" stroke="${COLORS.grid}"/>`);
    out.push(
      `<text x="${m.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="${COLORS.replicas}">${fmt(v)}</text>`,
    );
  }
  // right axis ticks (load)
  for (let v = 0; v <= loadScale.max + 1e-9; v += loadScale.step) {
    out.push(
      `<text x="${m.left + plotW + 8}" y="${fmt(yLoad(v))}" dominant-baseline="middle" fill="${COLORS.axis}">${fmt(v)}</text>`,
    );
  }
  // x axis ticks (time)
  for (let v = 0; v <= t1 - t0 + 1e-9; v += tScale.step) {
    const xv = fmt(x(t0 + v));
    out.push(
      `<line x1="${xv}" y1="${m.top + plotH}" x2="${xv}" y2="${m.top + plotH + 5}" stroke="${COLORS.axis}"/>`,
    );
    out.push(`<text x="${xv}" y="${m.top + plotH + 18}" text-anchor="middle">${fmt(t0 + v)}</text>`);
  }
  // axes
  out.push(
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + plotH}" stroke="${COLORS.axis}"/>`,
  );
  out.push(
    `<line x1="${m.left + plotW}" y1="${m.top}" x2="${m.left + plotW}" y2="${m.top + plotH}" stroke="${COLORS.axis}"/>`,
  );
  out.push(
    `<line x1="${m.left}" y1="${m.top + plotH}" x2="${m.left + plotW}" y2="${m.top + plotH}" stroke="${COLORS.axis}"/>`,
  );
  out.push(`<text x="${m.left + plotW / 2}" y="${height - 14}" text-anchor="middle">time (s)</text>`);
  out.push(
    `<text transform="translate(18 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="${COLORS.replicas}">replicas</text>`,
  );
  out.push(
    `<text transform="translate(${width - 16} ${m.top + plotH / 2}) rotate(90)" text-anchor="middle">load: CPU % / queue depth (jobs)</text>`,
  );
  // min / max replica bounds
  for (const [label, v] of [
    ['min', opts.minReplicas],
    ['max', opts.maxReplicas],
  ] as const) {
    if (v === undefined) continue;
    const y = fmt(yRep(v));
    out.push(
      `<line x1="${m.left}" y1="${y}" x2="${m.left + plotW}" y2="${y}" stroke="${COLORS.bound}" stroke-dasharray="6 4"/>`,
    );
    out.push(`<text x="${m.left + 4}" y="${fmt(yRep(v) - 4)}" fill="${COLORS.bound}">${label} ${v}</text>`);
  }
  // series
  const xEnd = m.left + plotW;
  for (const run of runs(rows, (r) => r.cpu)) {
    out.push(
      `<path d="${stepPath(
        run.map(([t, v]) => [x(t), yLoad(v)]),
        x(run[run.length - 1][0]),
      )}" fill="none" stroke="${COLORS.cpu}" stroke-width="1.5"/>`,
    );
  }
  for (const run of runs(rows, (r) => r.depth)) {
    out.push(
      `<path d="${stepPath(
        run.map(([t, v]) => [x(t), yLoad(v)]),
        x(run[run.length - 1][0]),
      )}" fill="none" stroke="${COLORS.depth}" stroke-width="1.5" stroke-dasharray="4 2"/>`,
    );
  }
  if (rows.length) {
    out.push(
      `<path d="${stepPath(
        rows.map((r) => [x(r.t), yRep(r.desired)]),
        xEnd,
      )}" fill="none" stroke="${COLORS.replicas}" stroke-width="2.5"/>`,
    );
  }
  // legend
  const legend: Array<[string, string, string]> = [
    ['replicas (desired)', COLORS.replicas, ''],
    ['CPU utilization %', COLORS.cpu, ''],
    ['queue depth (jobs)', COLORS.depth, '4 2'],
  ];
  legend.forEach(([label, color, dash], i) => {
    const lx = m.left + 10 + i * 170;
    const ly = m.top - 20;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="2.5"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
    );
    out.push(`<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(label)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
