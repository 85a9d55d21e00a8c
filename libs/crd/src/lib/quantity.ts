const SUFFIX: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const QUANTITY =
  /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([KMGTPE]i|[numkMGTPE])|[eE]([+-]?(?:\d+(?:\.\d*)?|\.\d+)))?$/;

/**
 * The numeric value of a Kubernetes quantity (`500m` → 0.5, `1Gi` → 1073741824, `2` → 2, `1e3` → 1000).
 * Floating point: exact enough to compare requests with limits, not for arithmetic on huge values.
 * @throws Error for a string that is not a quantity.
 */
export function parseQuantity(quantity: string | number): number {
  if (typeof quantity === 'number') {
    if (!Number.isFinite(quantity)) throw new Error(`Invalid quantity ${quantity}`);
    return quantity;
  }
  const match = QUANTITY.exec(quantity.trim());
  if (!match || quantity.trim() !== quantity) throw new Error(`Invalid quantity ${JSON.stringify(quantity)}`);
  const [, number, suffix, exponent] = match;
  if (exponent !== undefined) return Number(number) * 10 ** Number(exponent);
  return Number(number) * SUFFIX[suffix ?? ''];
}

/** A quantity as the string Kubernetes serialises (`2` → `'2'`). */
export function quantityString(quantity: string | number): string {
  return typeof quantity === 'number' ? String(quantity) : quantity;
}
