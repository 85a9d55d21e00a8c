/** Hand-rolled argv parsing for the `executor` CLI (no dependencies). */

/** A mistake in how the CLI was called: message + usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type FlagKind = 'boolean' | 'string' | 'list';

/** Every flag the CLI knows, with its kind. Short aliases map to long names. */
export const FLAGS: Record<string, FlagKind> = {
  help: 'boolean',
  version: 'boolean',
  json: 'boolean',
  url: 'string',
  key: 'string',
  config: 'string',
  template: 'string',
  timeout: 'string',
  language: 'string',
  ttl: 'string',
  region: 'string',
  env: 'list',
  meta: 'list',
  persist: 'boolean',
  'no-persist': 'boolean',
  keep: 'boolean',
  manager: 'string',
  weight: 'string',
};

const SHORT: Record<string, string> = { h: 'help', t: 'template', v: 'version' };

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string | boolean | string[]>;
}

/** Splits argv into positionals and flags (`--name value`, `--name=value`, `-t value`, `--` ends flags). */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const positionals: string[] = [];
  const flags: ParsedArgs['flags'] = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
    } else {
      const short = SHORT[arg.slice(1)];
      if (!short) throw new UsageError(`unknown option ${arg}`);
      name = short;
    }
    const kind = FLAGS[name];
    if (!kind) throw new UsageError(`unknown option --${name}`);
    if (kind === 'boolean') {
      if (inline !== undefined) throw new UsageError(`option --${name} takes no value`);
      flags[name] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next !== '--'))
        throw new UsageError(`option --${name} needs a value`);
      value = next;
      i++;
    }
    if (kind === 'list') {
      const list = (flags[name] as string[] | undefined) ?? [];
      list.push(value);
      flags[name] = list;
    } else {
      flags[name] = value;
    }
  }
  return { positionals, flags };
}

export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function bool(args: ParsedArgs, name: string): boolean {
  return args.flags[name] === true;
}

/** A positive integer flag, or undefined when absent. */
export function int(args: ParsedArgs, name: string, min = 1): number | undefined {
  const v = str(args, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min)
    throw new UsageError(`option --${name} must be an integer ≥ ${min}, got "${v}"`);
  return Number(v);
}

/** `--env K=V` (repeatable) as an object. */
export function keyValues(args: ParsedArgs, name: string): Record<string, string> | undefined {
  const list = args.flags[name];
  if (!Array.isArray(list)) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`option --${name} must look like KEY=VALUE, got "${item}"`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** Refuses flags a command does not take (global ones are always allowed). */
export function allowOnly(args: ParsedArgs, command: string, allowed: readonly string[]): void {
  const global = ['help', 'version', 'json', 'url', 'key', 'config'];
  for (const name of Object.keys(args.flags)) {
    if (!global.includes(name) && !allowed.includes(name))
      throw new UsageError(`option --${name} does not apply to "${command}"`);
  }
}
