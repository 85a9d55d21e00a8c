import { parseQuantity, quantityString } from './quantity';

describe('parseQuantity', () => {
  it.each([
    ['500m', 0.5],
    ['2', 2],
    [2, 2],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['1Ki', 1024],
    ['512Mi', 512 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1G', 1e9],
    ['1k', 1000],
    ['100u', 1e-4],
    ['1e3', 1000],
    ['1E-3', 0.001],
  ])('%s → %d', (input, value) => {
    expect(parseQuantity(input)).toBeCloseTo(value, 9);
  });

  it.each(['12 cores', '', '1gi', 'Mi', ' 1', '1.2.3', '1KiB'])('rejects %j', (input) => {
    expect(() => parseQuantity(input)).toThrow(/Invalid quantity/);
  });

  it('rejects non-finite numbers and stringifies numbers', () => {
    expect(() => parseQuantity(Number.NaN)).toThrow(/Invalid quantity/);
    expect(quantityString(2)).toBe('2');
    expect(quantityString('2Gi')).toBe('2Gi');
  });
});
