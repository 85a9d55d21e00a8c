import { LabelSelectorError, matchesLabels, parseLabelSelector, pinnedValue } from './label-selector';

describe('label selectors (apimachinery labels.Parse semantics)', () => {
  const m = (sel: string, labels: Record<string, string>): boolean =>
    matchesLabels(parseLabelSelector(sel), labels);

  it('the HPA form of matchLabels {pool: p}', () => {
    expect(parseLabelSelector('pool=p')).toEqual([{ key: 'pool', operator: '=', values: ['p'] }]);
    expect(m('pool=p', { pool: 'p' })).toBe(true);
    expect(m('pool=p', { pool: 'q' })).toBe(false);
    expect(m('pool==p', { pool: 'p' })).toBe(true);
    expect(pinnedValue(parseLabelSelector('pool=p'), 'pool')).toBe('p');
    expect(pinnedValue(parseLabelSelector('pool in (p)'), 'pool')).toBe('p');
    expect(pinnedValue(parseLabelSelector('pool in (p,q)'), 'pool')).toBeUndefined();
  });

  it('every operator, with spaces, and several requirements (AND)', () => {
    expect(m('', { pool: 'x' })).toBe(true);
    expect(m('pool!=p', { pool: 'q' })).toBe(true);
    expect(m('pool!=p', {})).toBe(true); // != matches an absent key
    expect(m('pool in (a, b)', { pool: 'b' })).toBe(true);
    expect(m('pool notin (a,b)', { pool: 'c' })).toBe(true);
    expect(m('pool notin (a,b)', { pool: 'a' })).toBe(false);
    expect(m('pool', { pool: '' })).toBe(true);
    expect(m('!pool', { pool: 'a' })).toBe(false);
    expect(m('!tier', { pool: 'a' })).toBe(true);
    expect(m('n>3', { n: '4' })).toBe(true);
    expect(m('n<3', { n: '4' })).toBe(false);
    expect(m('pool=p,tier in (x)', { pool: 'p' })).toBe(false);
    expect(m(' pool = p , tier ', { pool: 'p', tier: '' })).toBe(true);
    expect(m('executor.ai-orchestrator.io/pool=p', { 'executor.ai-orchestrator.io/pool': 'p' })).toBe(true);
    expect(m('pool=', { pool: '' })).toBe(true);
  });

  it.each([
    ['pool=p,', /trailing/],
    ['pool in p', /expected "\("/],
    ['pool in (a b)', /expected "," or "\)"/],
    ['pool=a=b', /expected "," between/],
    ['=p', /expected a key/],
    ['Bad Key=p', /unexpected token|expected "," between/],
    ['pool=has space', /expected "," between/],
    ['pool=' + 'x'.repeat(64), /invalid label value/],
    ['-pool=p', /invalid label key/],
    ['n>x', /not an integer/],
  ])('rejects %j', (sel, message) => {
    expect(() => parseLabelSelector(sel)).toThrow(LabelSelectorError);
    expect(() => parseLabelSelector(sel)).toThrow(message);
  });
});
