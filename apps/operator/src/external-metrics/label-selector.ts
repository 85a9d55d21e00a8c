/**
 * Kubernetes label selectors in their string form (what the HPA controller sends as `?labelSelector=`
 * for an External metric's `selector`), parsed and matched as `k8s.io/apimachinery/pkg/labels`
 * (`selector.go`: Lexer/Parser, `Requirement.Matches`) does:
 *
 *   selector    ::= requirement ("," requirement)*        (empty string: matches everything)
 *   requirement ::= ["!"] KEY [ ("in" | "notin") "(" VALUE ("," VALUE)* ")"
 *                             | ("=" | "==" | "!=") VALUE | ("gt" | "lt" as ">" | "<") INTEGER ]
 *
 * Keys are qualified names (`[prefix/]name`), values label values (≤ 63 characters, may be empty).
 * No maintained npm package implements this grammar (none found on the registry), so it is written here.
 */

export type SelectorOperator = 'in' | 'notin' | '=' | '!=' | 'exists' | '!' | 'gt' | 'lt';

export interface Requirement {
  key: string;
  operator: SelectorOperator;
  values: string[];
}

export class LabelSelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabelSelectorError';
  }
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

function checkKey(key: string): void {
  const slash = key.indexOf('/');
  const [prefix, name] = slash >= 0 ? [key.slice(0, slash), key.slice(slash + 1)] : [undefined, key];
  const prefixOk = prefix === undefined || (prefix.length <= 253 && DNS_SUBDOMAIN.test(prefix));
  if (!prefixOk || !NAME.test(name)) throw new LabelSelectorError(`invalid label key "${key}"`);
}

function checkValue(value: string): void {
  if (!VALUE.test(value)) throw new LabelSelectorError(`invalid label value "${value}"`);
}

type Token =
  | { t: 'id'; v: string }
  | { t: 'op'; v: '=' | '==' | '!=' | '!' | '>' | '<' }
  | { t: ',' }
  | { t: '(' }
  | { t: ')' };

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === ',' || c === '(' || c === ')') {
      out.push({ t: c });
      i++;
    } else if (c === '=' || c === '!' || c === '>' || c === '<') {
      const two = text.slice(i, i + 2);
      if (two === '==' || two === '!=') {
        out.push({ t: 'op', v: two });
        i += 2;
      } else {
        out.push({ t: 'op', v: c });
        i++;
      }
    } else {
      let j = i;
      while (j < text.length && !/[\s,()=!<>]/.test(text[j] as string)) j++;
      out.push({ t: 'id', v: text.slice(i, j) });
      i = j;
    }
  }
  return out;
}

/** Parses a selector string; throws {@link LabelSelectorError} with the reason when it is invalid. */
export function parseLabelSelector(text: string): Requirement[] {
  const tokens = tokenize(text);
  const reqs: Requirement[] = [];
  let i = 0;
  const peek = (): Token | undefined => tokens[i];
  const fail = (what: string): never => {
    throw new LabelSelectorError(`invalid label selector "${text}": ${what}`);
  };
  const id = (what: string): string => {
    const tok = tokens[i];
    if (tok?.t !== 'id') return fail(`expected ${what}`);
    i++;
    return tok.v;
  };
  while (i < tokens.length) {
    let negated = false;
    const first = peek();
    if (first?.t === 'op' && first.v === '!') {
      negated = true;
      i++;
    }
    const key = id('a key');
    checkKey(key);
    const next = peek();
    if (negated) {
      reqs.push({ key, operator: '!', values: [] });
    } else if (next === undefined || next.t === ',') {
      reqs.push({ key, operator: 'exists', values: [] });
    } else if (next.t === 'op' && (next.v === '=' || next.v === '==' || next.v === '!=')) {
      i++;
      // An empty value is allowed ("pool=" selects pool="" or, with !=, everything else).
      const tok = peek();
      const value = tok?.t === 'id' ? (i++, tok.v) : '';
      checkValue(value);
      reqs.push({ key, operator: next.v === '!=' ? '!=' : '=', values: [value] });
    } else if (next.t === 'op' && (next.v === '>' || next.v === '<')) {
      i++;
      const value = id('an integer');
      if (!/^-?[0-9]+$/.test(value)) fail(`"${value}" is not an integer`);
      reqs.push({ key, operator: next.v === '>' ? 'gt' : 'lt', values: [value] });
    } else if (next.t === 'id' && (next.v === 'in' || next.v === 'notin')) {
      i++;
      if (peek()?.t !== '(') fail(`expected "(" after ${next.v}`);
      i++;
      const values: string[] = [];
      for (;;) {
        const tok = peek();
        const value = tok?.t === 'id' ? (i++, tok.v) : '';
        checkValue(value);
        values.push(value);
        const sep = peek();
        if (sep?.t === ',') {
          i++;
          continue;
        }
        if (sep?.t === ')') {
          i++;
          break;
        }
        fail('expected "," or ")" in a value set');
      }
      reqs.push({ key, operator: next.v, values });
    } else {
      fail(`unexpected token after key "${key}"`);
    }
    const sep = peek();
    if (sep === undefined) break;
    if (sep.t !== ',') fail('expected "," between requirements');
    i++;
    if (i === tokens.length) fail('trailing ","');
  }
  return reqs;
}

/** Whether a set of labels satisfies every requirement (an empty selector matches everything). */
export function matchesLabels(
  reqs: readonly Requirement[],
  labels: Readonly<Record<string, string>>,
): boolean {
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    const value = labels[r.key];
    switch (r.operator) {
      case '=':
      case 'in':
        return has && r.values.includes(value as string);
      case '!=':
      case 'notin':
        return !has || !r.values.includes(value as string);
      case 'exists':
        return has;
      case '!':
        return !has;
      case 'gt':
      case 'lt': {
        if (!has || !/^-?[0-9]+$/.test(value as string)) return false;
        const n = Number(value);
        const bound = Number(r.values[0]);
        return r.operator === 'gt' ? n > bound : n < bound;
      }
    }
  });
}

/** The single value a selector pins `key` to (`key=v` or `key in (v)`), if it does. */
export function pinnedValue(reqs: readonly Requirement[], key: string): string | undefined {
  for (const r of reqs) {
    if (r.key === key && (r.operator === '=' || r.operator === 'in') && r.values.length === 1)
      return r.values[0];
  }
  return undefined;
}
