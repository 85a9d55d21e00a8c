import type { Static, TObject } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/** Thrown at boot when the environment does not satisfy an app's config schema. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads an app's configuration from environment variables, validated at boot.
 * The schema is a TypeBox object whose property names are the env var names; each property
 * carries its TSDoc/`description` and `default` (the single place an option is documented).
 * Strings are converted to numbers/booleans as the schema says; unknown vars are ignored.
 */
export function loadConfig<T extends TObject>(schema: T, env: NodeJS.ProcessEnv = process.env): Static<T> {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties)) {
    const v = env[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  const withDefaults = Value.Default(schema, Value.Convert(schema, raw));
  // One problem per variable (TypeBox may report a missing property more than once).
  const byName = new Map<string, string>();
  for (const e of Value.Errors(schema, withDefaults)) {
    const name = e.path.replace(/^\//, '') || '(root)';
    if (!byName.has(name))
      byName.set(name, `${name}: ${e.message} (got ${JSON.stringify(raw[name] ?? null)})`);
  }
  const problems = [...byName.values()];
  if (problems.length) throw new ConfigError(problems);
  return withDefaults as Static<T>;
}

/** Markdown table of a config schema (name, default, description) for READMEs and `--help`. */
export function describeConfig(schema: TObject): string {
  const rows = Object.entries(schema.properties).map(([name, s]) => {
    const d = (s as { default?: unknown }).default;
    const desc = ((s as { description?: string }).description ?? '').replace(/\n/g, ' ');
    return `| \`${name}\` | ${d === undefined ? '(required)' : `\`${String(d)}\``} | ${desc} |`;
  });
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
