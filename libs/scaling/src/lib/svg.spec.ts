import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../cli/simulate';
import { escapeXml, niceScale, renderTimelineSvg } from './svg';
import { simulate } from './simulate';

/**
 * A strict XML well-formedness check (enough for generated SVG): one root element, balanced and
 * correctly nested tags, quoted attributes without duplicates, no raw '<' or bare '&' in text.
 * Returns the element names in document order.
 */
function parseXml(xml: string): string[] {
  const names: string[] = [];
  const stack: string[] = [];
  const token = /<\/?([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let roots = 0;
  let m: RegExpExecArray | null;
  let pos = 0;
  while (pos < xml.length) {
    token.lastIndex = pos;
    m = token.exec(xml);
    if (!m) throw new Error(`not well-formed at ${pos}: ${xml.slice(pos, pos + 40)}`);
    pos = token.lastIndex;
    if (m[4] !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(m[4])) throw new Error(`bare & in text: ${m[4]}`);
      if (stack.length === 0 && m[4].trim()) throw new Error('text outside the root');
      continue;
    }
    const [whole, name, attrs, selfClosing] = m;
    if (whole.startsWith('</')) {
      if (stack.pop() !== name) throw new Error(`mismatched </${name}>`);
      continue;
    }
    const attrNames = [...attrs.matchAll(/([\w:.-]+)="/g)].map((a) => a[1]);
    if (new Set(attrNames).size !== attrNames.length) throw new Error(`duplicate attribute in <${name}>`);
    if (stack.length === 0 && ++roots > 1) throw new Error('more than one root');
    names.push(name);
    if (!selfClosing) stack.push(name);
  }
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  return names;
}

describe('renderTimelineSvg', () => {
  const rows = simulate(
    [
      { t: 0, cpu: 100, depth: 0 },
      { t: 60, cpu: 2000, depth: 120 },
      { t: 300, cpu: null, depth: 0 },
      { t: 600, cpu: 200, depth: 0 },
    ],
    { minReplicas: 2, maxReplicas: 20 },
  );

  it('is well-formed XML with axes, series and a legend', () => {
    const svg = renderTimelineSvg(rows, { title: 'a <spike> & "drop"', minReplicas: 2, maxReplicas: 20 });
    const names = parseXml(svg);
    expect(names[0]).toBe('svg');
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(svg).toContain('a &lt;spike&gt; &amp; &quot;drop&quot;');
    for (const label of [
      'replicas (desired)',
      'CPU utilization %',
      'queue depth (jobs)',
      'time (s)',
      'max 20',
      'min 2',
    ])
      expect(svg).toContain(label);
    expect(names.filter((n) => n === 'path').length).toBe(4); // replicas, 2 cpu runs (gap while missing), depth
  });

  it('the checker itself rejects broken XML', () => {
    expect(() => parseXml('<svg><g></svg>')).toThrow(/mismatched/);
    expect(() => parseXml('<svg a="1" a="2"/>')).toThrow(/duplicate/);
    expect(() => parseXml('<svg>a & b</svg>')).toThrow(/bare &/);
    expect(() => parseXml('<svg><path d=1/></svg>')).toThrow(/not well-formed/);
  });

  it('handles an empty or single-row timeline', () => {
    expect(() => parseXml(renderTimelineSvg([]))).not.toThrow();
    expect(() => parseXml(renderTimelineSvg(rows.slice(0, 1)))).not.toThrow();
  });

  it('helpers: escapeXml, niceScale', () => {
    expect(escapeXml(`<&>"'`)).toBe('&lt;&amp;&gt;&quot;&apos;');
    expect(niceScale(20)).toEqual({ max: 20, step: 5 });
    expect(niceScale(1000)).toEqual({ max: 1000, step: 200 });
    expect(niceScale(0)).toEqual({ max: 1, step: 1 });
  });
});

describe('simulate CLI', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'scaling-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the timeline and writes the SVG for the shipped spike trace', () => {
    const lines: string[] = [];
    const out = join(dir, 'chart.svg');
    const code = main(['--trace', join(__dirname, '../../traces/spike.json'), '--out', out], (l) =>
      lines.push(l),
    );
    expect(code).toBe(0);
    expect(lines[0]).toMatch(/^t\(s\)\s+replicas\s+desired/);
    expect(lines[0]).toMatch(/\n\s+105\s+2\s+4\s/);
    expect(parseXml(readFileSync(out, 'utf8'))[0]).toBe('svg');
  });

  it('the flapping trace holds replicas while the load flaps', () => {
    const lines: string[] = [];
    main(
      ['--trace', join(__dirname, '../../traces/flapping.json'), '--out', join(dir, 'f.svg'), '--json'],
      (l) => lines.push(l),
    );
    const rows = JSON.parse(lines[0]) as Array<{ t: number; replicas: number; desired: number }>;
    const changes = rows.filter((r) => r.desired !== r.replicas);
    expect(changes.map((r) => [r.t, r.desired])).toEqual([
      [105, 6],
      [1125, 5],
      [1185, 4],
      [1245, 3],
    ]);
  });

  it('fails clearly on a missing --trace, a missing file and bad numbers', () => {
    expect(() => main([])).toThrow(/--trace <file> is required/);
    expect(() => main(['--trace', join(dir, 'nope.json')])).toThrow(/cannot read trace/);
    expect(() => main(['--trace', join(__dirname, '../../traces/spike.json'), '--min', 'two'])).toThrow(
      /--min must be an integer/,
    );
    expect(() => main(['--bogus'])).toThrow(/bogus/);
  });
});
