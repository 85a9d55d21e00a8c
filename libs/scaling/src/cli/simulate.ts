/**
 * Replays a load trace through the autoscaling policy and prints the replica timeline; writes an SVG chart.
 *
 *   npx nx run scaling:simulate -- --trace libs/scaling/traces/spike.json [--out tmp/scaling-simulation.svg]
 *     [--min N] [--max N] [--initial N] [--cpu-mode demand|utilization] [--sync 15] [--no-gate] [--json]
 *     [--png tmp/scaling-simulation.png]   (needs /usr/bin/chromium; skipped with a notice otherwise)
 *
 * Paths are relative to the current directory (the repo root under nx). Exit code 2 on bad input.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidScalingInputError } from '../lib/config';
import { formatTimeline, parseTrace, simulate, type CpuMode } from '../lib/simulate';
import { renderTimelineSvg } from '../lib/svg';
import type { ScalingConfig } from '../lib/types';

export const DEFAULT_SVG_PATH = 'tmp/scaling-simulation.svg';
export const CHROMIUM_PATH = '/usr/bin/chromium';
const SVG_SIZE = { width: 960, height: 440 };

/** Screenshots the SVG with headless chromium; returns a line for the log. */
function renderPng(svgPath: string, pngPath: string): string {
  if (!existsSync(CHROMIUM_PATH)) return `PNG skipped: ${CHROMIUM_PATH} not installed`;
  mkdirSync(dirname(pngPath), { recursive: true });
  const res = spawnSync(
    CHROMIUM_PATH,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--hide-scrollbars',
      `--window-size=${SVG_SIZE.width},${SVG_SIZE.height}`,
      `--screenshot=${pngPath}`,
      `file://${svgPath}`,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (res.status !== 0 || !existsSync(pngPath))
    return `PNG failed (chromium exit ${res.status}): ${(res.stderr ?? '').split('\n').slice(-3).join(' ')}`;
  return `PNG written to ${pngPath}`;
}

function intArg(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n))
    throw new InvalidScalingInputError(`--${name} must be an integer, got "${value}"`);
  return n;
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export function main(argv: string[], log: (line: string) => void = console.log): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      trace: { type: 'string' },
      out: { type: 'string', default: DEFAULT_SVG_PATH },
      min: { type: 'string' },
      max: { type: 'string' },
      initial: { type: 'string' },
      'cpu-mode': { type: 'string' },
      sync: { type: 'string' },
      'no-gate': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      png: { type: 'string' },
    },
    strict: true,
  });
  if (!values.trace) throw new InvalidScalingInputError('--trace <file> is required');
  const tracePath = resolve(values.trace);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(tracePath, 'utf8'));
  } catch (err) {
    throw new InvalidScalingInputError(`cannot read trace ${tracePath}: ${(err as Error).message}`);
  }
  const trace = parseTrace(raw);
  const base: ScalingConfig = trace.config ?? { minReplicas: 2, maxReplicas: 20 };
  const config: ScalingConfig = {
    ...base,
    minReplicas: intArg(values.min, 'min') ?? base.minReplicas,
    maxReplicas: intArg(values.max, 'max') ?? base.maxReplicas,
    ...(values['no-gate'] ? { scaleDownGate: false } : {}),
  };
  const sync = values.sync === undefined ? undefined : Number(values.sync);
  const rows = simulate(trace, config, {
    initialReplicas: intArg(values.initial, 'initial') ?? trace.initialReplicas,
    cpuMode: (values['cpu-mode'] as CpuMode | undefined) ?? trace.cpuMode,
    syncPeriodSeconds: sync,
  });
  log(values.json ? JSON.stringify(rows, null, 2) : formatTimeline(rows));
  const out = resolve(values.out ?? DEFAULT_SVG_PATH);
  mkdirSync(dirname(out), { recursive: true });
  const title = `${trace.description ?? values.trace} (min ${config.minReplicas}, max ${config.maxReplicas})`;
  writeFileSync(
    out,
    renderTimelineSvg(rows, {
      ...SVG_SIZE,
      title,
      minReplicas: config.minReplicas,
      maxReplicas: config.maxReplicas,
    }),
  );
  if (!values.json) log(`\nSVG written to ${out}`);
  if (values.png) {
    const line = renderPng(out, resolve(values.png));
    if (!values.json) log(line);
  }
  return 0;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(`simulate: ${(err as Error).message}`);
    process.exitCode = 2;
  }
}
