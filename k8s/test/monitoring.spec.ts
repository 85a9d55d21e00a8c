/**
 * k8s/config/deployment/prometheus-monitoring.yaml and grafana-dashboard.json: promtool checks the
 * PrometheusRule's groups and runs the alert unit tests (test/fixtures/alerts.test.yaml); every
 * PromQL of the dashboard and of the prometheus-adapter rules parses; the adapter serves the External
 * metric the pools' HPAs ask for (libs/scaling); every metric used is defined in k8s/README.md.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { DEFAULT_QUEUE_DEPTH_METRIC_NAME, toHpaSpec } from '@executor/scaling';
import { type KObject, parseObjects } from './lib/objects';
import { DEPLOYMENT_DIR, K8S_DIR } from './lib/paths';

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Group {
  name: string;
  rules: Rule[];
}

const REQUIRED_ALERTS = [
  'ExecutorQueueDepthHigh',
  'ExecutorCircuitOpen',
  'ExecutorPoolNoReadyPods',
  'ExecutorSnapshotFailures',
  'ExecutorOperatorReconcileErrors',
  'RedisDown',
];

const objects = parseObjects(
  readFileSync(join(DEPLOYMENT_DIR, 'prometheus-monitoring.yaml'), 'utf8'),
  'prometheus-monitoring.yaml',
);
const rule = objects.find((o) => o.kind === 'PrometheusRule') as KObject;
const groups = (rule['spec'] as unknown as { groups: Group[] }).groups;
const rules = groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(readFileSync(join(DEPLOYMENT_DIR, 'grafana-dashboard.json'), 'utf8')) as {
  uid: string;
  panels: Array<{ type: string; title: string; targets?: Array<{ expr: string }> }>;
};
const adapterMap = objects.find(
  (o) => o.kind === 'ConfigMap' && o.metadata.name === 'executor-prometheus-adapter',
) as KObject;
const adapter = parse((adapterMap['data'] as Record<string, string>)['config.yaml']) as {
  externalRules: Array<{
    seriesQuery: string;
    metricsQuery: string;
    name: { matches: string; as: string };
    resources: { namespaced: boolean };
  }>;
};

function promtool(args: string[], cwd: string): { status: number | null; output: string } {
  const res = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (res.error)
    throw new Error(`promtool is needed (Debian: apt-get install -y prometheus): ${res.error.message}`);
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}

/** Writes `groups` as a rule file into a fresh temp dir (removed by the caller). */
function ruleDir(content: { groups: unknown[] }): string {
  const dir = mkdtempSync(join(tmpdir(), 'k8s-promtool-'));
  writeFileSync(join(dir, 'rules.yaml'), stringify(content));
  return dir;
}

/** Metric names in a PromQL expression (identifiers followed by `{`, `[`, `)` or whitespace, not functions/keywords). */
function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""').replace(/<<[^>]*>>/g, '');
  const names =
    withoutStrings.match(/[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*(\{|\[|\)|$|\s|\/|>|<|=|\*|-|\+))/g) ?? [];
  const keywords = new Set([
    'by',
    'without',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'and',
    'or',
    'unless',
    'bool',
    'offset',
    'le',
    'pool',
    'route',
    'status',
    'result',
    'controller',
  ]);
  return names.filter((n) => !keywords.has(n) && /_/.test(n) && !/^\d/.test(n));
}

describe('PrometheusRule', () => {
  it('has the required alerts, each with for, severity, summary, description and runbook', () => {
    const alerts = rules.filter((r) => r.alert);
    expect(alerts.map((a) => a.alert)).toEqual(expect.arrayContaining(REQUIRED_ALERTS));
    for (const a of alerts) {
      expect({ alert: a.alert, for: typeof a.for, severity: a.labels?.['severity'] }).toEqual({
        alert: a.alert,
        for: 'string',
        severity: expect.stringMatching(/^(warning|critical)$/),
      });
      for (const key of ['summary', 'description', 'runbook'])
        expect(a.annotations?.[key]?.length ?? 0).toBeGreaterThan(10);
    }
    expect(rules.find((r) => r.alert === 'ExecutorQueueDepthHigh')?.for).toBe('5m');
  });

  it('passes promtool check rules', () => {
    const dir = ruleDir({ groups });
    try {
      const res = promtool(['check', 'rules', 'rules.yaml'], dir);
      expect(res.output).toContain(`SUCCESS: ${rules.length} rules found`);
      expect(res.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes the alert unit tests (promtool test rules)', () => {
    const dir = ruleDir({ groups });
    try {
      copyFileSync(join(__dirname, 'fixtures/alerts.test.yaml'), join(dir, 'alerts.test.yaml'));
      const res = promtool(['test', 'rules', 'alerts.test.yaml'], dir);
      expect(res.output).toContain('SUCCESS');
      expect(res.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('promtool rejects a broken rule (the check can fail)', () => {
    const dir = ruleDir({
      groups: [{ name: 'bad', rules: [{ alert: 'Bad', expr: 'sum by (pool) (rate(x[5m])' }] }],
    });
    try {
      expect(promtool(['check', 'rules', 'rules.yaml'], dir).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Grafana dashboard', () => {
  const targets = dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
  );

  it('shows pools, sessions, queue depth, latency and breaker state', () => {
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join('\n');
    for (const topic of ['pods per pool', 'sessions', 'queue depth', 'latency', 'circuit breaker'])
      expect(titles).toContain(topic);
    expect(dashboard.uid).toBe('executor-platform');
  });

  it('has PromQL that parses (each expression checked by promtool as a recording rule)', () => {
    const dir = ruleDir({
      groups: [
        {
          name: 'dashboard',
          rules: targets.map((t, i) => ({
            record: `dashboard:expr_${i}`,
            expr: t.expr.replace(/\$pool/g, '.*'),
          })),
        },
      ],
    });
    try {
      const res = promtool(['check', 'rules', 'rules.yaml'], dir);
      expect(res.output).toContain(`SUCCESS: ${targets.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is shipped as a ConfigMap with the grafana_dashboard label', () => {
    const k = parse(readFileSync(join(DEPLOYMENT_DIR, 'kustomization.yaml'), 'utf8')) as {
      configMapGenerator: Array<{
        name: string;
        files: string[];
        options: { labels: Record<string, string> };
      }>;
    };
    const gen = k.configMapGenerator.find((g) => g.name === 'executor-grafana-dashboard');
    expect(gen?.files).toEqual(['executor-platform.json=grafana-dashboard.json']);
    expect(gen?.options.labels['grafana_dashboard']).toBe('1');
  });
});

describe('prometheus-adapter rules', () => {
  it('serve the External metric the pools HPAs use (libs/scaling), cluster-wide, selected by pool', () => {
    const hpa = toHpaSpec({ name: 'python-pool', minReplicas: 1, maxReplicas: 5 });
    const external = hpa.metrics.find((m) => m.type === 'External') as {
      external: { metric: { name: string; selector: { matchLabels: Record<string, string> } } };
    };
    expect(external.external.metric.name).toBe(DEFAULT_QUEUE_DEPTH_METRIC_NAME);
    const served = adapter.externalRules.find((r) => r.name.as === external.external.metric.name);
    expect(served).toBeDefined();
    expect(served?.resources.namespaced).toBe(false);
    expect(served?.metricsQuery).toContain('<<.LabelMatchers>>');
    for (const label of Object.keys(external.external.metric.selector.matchLabels)) {
      expect(served?.metricsQuery).toMatch(new RegExp(`by \\(${label}\\)`));
      expect(served?.seriesQuery).toContain(`${label}!=""`);
    }
  });

  it('have PromQL that parses once the adapter templates are filled in', () => {
    const dir = ruleDir({
      groups: [
        {
          name: 'adapter',
          rules: adapter.externalRules.map((r, i) => ({
            record: `adapter:expr_${i}`,
            expr: r.metricsQuery
              .replace(/<<\.Series>>/g, 'executor_pool_queue_depth')
              .replace(/<<\.LabelMatchers>>/g, 'pool="p"'),
          })),
        },
      ],
    });
    try {
      expect(promtool(['check', 'rules', 'rules.yaml'], dir).output).toContain(
        `SUCCESS: ${adapter.externalRules.length} rules found`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('metric names', () => {
  it('every metric the alerts, the dashboard and the adapter use is defined in k8s/README.md', () => {
    const readme = readFileSync(join(K8S_DIR, 'README.md'), 'utf8');
    const used = new Set([
      ...rules.flatMap((r) => metricNames(r.expr)),
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr))),
      ...adapter.externalRules.flatMap((r) => metricNames(r.metricsQuery)),
    ]);
    const recorded = new Set(rules.filter((r) => r.record).map((r) => r.record as string));
    const undefinedNames = [...used]
      .map((n) => n.replace(/_(bucket|sum|count)$/, ''))
      .filter((n) => !recorded.has(n) && !readme.includes(`\`${n}\``));
    expect(undefinedNames).toEqual([]);
    expect(used.size).toBeGreaterThan(10);
  });

  it('the name extractor finds metrics and skips functions and label names', () => {
    expect(
      metricNames('sum by (pool) (rate(executor_x_total{a="b_c"}[5m])) / clamp_min(up, 1)').sort(),
    ).toEqual(['executor_x_total']);
    expect(execFileSync('promtool', ['--version'], { encoding: 'utf8' })).toMatch(/promtool/);
  });
});
