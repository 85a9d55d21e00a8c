import type { TSchema } from '@sinclair/typebox';
import {
  X_INT_OR_STRING,
  X_LIST_MAP_KEYS,
  X_LIST_TYPE,
  X_PRESERVE_UNKNOWN,
  X_VALIDATIONS,
} from './schema-helpers';

/** A Kubernetes `JSONSchemaProps` (apiextensions.k8s.io/v1) as plain JSON. */
export interface JSONSchemaProps {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  [keyword: string]: unknown;
}

/** Value keywords copied verbatim from TypeBox to the CRD (all exist in JSONSchemaProps since 1.16). */
const VALUE_KEYWORDS = [
  'description',
  'format',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'minItems',
  'maxItems',
  'default',
] as const;
const EXTENSIONS = [X_PRESERVE_UNKNOWN, X_LIST_TYPE, X_LIST_MAP_KEYS, X_VALIDATIONS] as const;
/** TypeBox keys that carry no schema meaning for Kubernetes. */
const STRUCTURE_KEYWORDS = new Set([
  'type',
  'properties',
  'required',
  'items',
  'patternProperties',
  'anyOf',
  'const',
]);
const SCALAR_TYPES = new Set(['string', 'integer', 'number', 'boolean']);

function fail(path: string, what: string): never {
  throw new Error(`Cannot convert schema at ${path || '<root>'} to a Kubernetes structural schema: ${what}`);
}

function copyKeywords(source: Record<string, unknown>, target: JSONSchemaProps, path: string): void {
  for (const key of Object.keys(source)) {
    if (STRUCTURE_KEYWORDS.has(key)) continue;
    if (
      !(VALUE_KEYWORDS as readonly string[]).includes(key) &&
      !(EXTENSIONS as readonly string[]).includes(key)
    ) {
      if (key === X_INT_OR_STRING) continue;
      fail(path, `unsupported keyword "${key}"`);
    }
  }
  for (const key of [...VALUE_KEYWORDS, ...EXTENSIONS]) {
    if (source[key] !== undefined) (target as Record<string, unknown>)[key] = structuredClone(source[key]);
  }
}

function convertUnion(s: Record<string, unknown>, path: string): JSONSchemaProps {
  const branches = s['anyOf'] as Record<string, unknown>[];
  if (s[X_INT_OR_STRING] === true) {
    const types = branches.map((b) => b['type']);
    if (types.length !== 2 || !types.includes('integer') || !types.includes('string')) {
      fail(path, 'x-kubernetes-int-or-string needs exactly an integer and a string branch');
    }
    const stringBranch = branches.find((b) => b['type'] === 'string') ?? {};
    const out: JSONSchemaProps = { [X_INT_OR_STRING]: true };
    copyKeywords(s, out, path);
    if (typeof stringBranch['pattern'] === 'string') out['pattern'] = stringBranch['pattern'];
    out['anyOf'] = [{ type: 'integer' }, { type: 'string' }];
    return out;
  }
  if (
    branches.length > 0 &&
    branches.every((b) => b['type'] === 'string' && typeof b['const'] === 'string')
  ) {
    const out: JSONSchemaProps = { type: 'string' };
    copyKeywords(s, out, path);
    out['enum'] = branches.map((b) => b['const']);
    return out;
  }
  return fail(path, 'unions other than string enums and int-or-string are not structural');
}

/**
 * Converts a TypeBox schema to a Kubernetes structural schema: drops TypeBox's symbol keys, turns unions
 * of string literals into `enum`, literals into one-value enums, `Type.Record` into
 * `additionalProperties`, int-or-string unions into the `x-kubernetes-int-or-string` form. Throws on
 * anything Kubernetes cannot express (so the generator never writes a schema the API server rejects).
 */
export function toStructuralSchema(schema: TSchema, path = ''): JSONSchemaProps {
  const s = schema as unknown as Record<string, unknown>;
  if (Array.isArray(s['anyOf'])) return convertUnion(s, path);
  if (s['const'] !== undefined) {
    if (typeof s['const'] !== 'string') fail(path, 'only string literals are supported');
    const out: JSONSchemaProps = { type: 'string' };
    copyKeywords(s, out, path);
    out['enum'] = [s['const']];
    return out;
  }
  const type = s['type'];
  if (type === 'object') return convertObject(s, path);
  if (type === 'array') {
    const items = s['items'];
    if (!items || Array.isArray(items)) fail(path, 'arrays need one items schema');
    const out: JSONSchemaProps = { type: 'array' };
    copyKeywords(s, out, path);
    out['items'] = toStructuralSchema(items as TSchema, `${path}[]`);
    return out;
  }
  if (typeof type === 'string' && SCALAR_TYPES.has(type)) {
    const out: JSONSchemaProps = { type: type as JSONSchemaProps['type'] };
    copyKeywords(s, out, path);
    return out;
  }
  return fail(path, `unsupported type ${JSON.stringify(type)}`);
}

function convertObject(s: Record<string, unknown>, path: string): JSONSchemaProps {
  if (s['additionalProperties'] !== undefined)
    fail(path, 'additionalProperties is not supported (use Type.Record)');
  const out: JSONSchemaProps = { type: 'object' };
  copyKeywords(s, out, path);
  const properties = s['properties'] as Record<string, TSchema> | undefined;
  const patternProperties = s['patternProperties'] as Record<string, TSchema> | undefined;
  if (properties && Object.keys(properties).length > 0) {
    if (patternProperties) fail(path, 'properties together with a map');
    out['properties'] = Object.fromEntries(
      Object.entries(properties).map(([key, value]) => [
        key,
        toStructuralSchema(value, path ? `${path}.${key}` : key),
      ]),
    );
    const required = (s['required'] as string[] | undefined) ?? [];
    if (required.length > 0) out['required'] = [...required];
  } else if (patternProperties) {
    const entries = Object.entries(patternProperties);
    if (entries.length !== 1 || !['^(.*)$', '^.*$'].includes(entries[0][0])) {
      fail(path, 'only Type.Record(Type.String(), …) maps are supported');
    }
    out['additionalProperties'] = toStructuralSchema(entries[0][1], `${path}{}`);
  } else if (out[X_PRESERVE_UNKNOWN] !== true) {
    fail(path, 'an object without properties needs x-kubernetes-preserve-unknown-fields');
  }
  return out;
}

/** Every keyword of apiextensions.k8s.io/v1 JSONSchemaProps (1.20) plus x-kubernetes-validations (1.23+). */
const KNOWN_KEYWORDS = new Set([
  'id',
  '$schema',
  '$ref',
  'description',
  'type',
  'format',
  'title',
  'default',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'maxItems',
  'minItems',
  'uniqueItems',
  'multipleOf',
  'enum',
  'maxProperties',
  'minProperties',
  'required',
  'items',
  'allOf',
  'oneOf',
  'anyOf',
  'not',
  'properties',
  'additionalProperties',
  'patternProperties',
  'dependencies',
  'additionalItems',
  'definitions',
  'externalDocs',
  'example',
  'nullable',
  X_PRESERVE_UNKNOWN,
  'x-kubernetes-embedded-resource',
  X_INT_OR_STRING,
  X_LIST_MAP_KEYS,
  X_LIST_TYPE,
  'x-kubernetes-map-type',
  X_VALIDATIONS,
]);
const FORBIDDEN = [
  '$ref',
  'id',
  '$schema',
  'definitions',
  'dependencies',
  'additionalItems',
  'uniqueItems',
  'patternProperties',
];
const STRUCTURAL_IN_JUNCTORS = [
  'type',
  'items',
  'properties',
  'additionalProperties',
  'default',
  'nullable',
  'description',
];

/**
 * Checks a CRD `openAPIV3Schema` for the structural-schema rules of apiextensions.k8s.io/v1 (and for
 * keywords that an older API server would silently drop). Returns the violations (empty = structural).
 */
export function structuralViolations(root: JSONSchemaProps): string[] {
  const problems: string[] = [];
  const visit = (node: JSONSchemaProps, path: string, isRoot: boolean): void => {
    const at = path || '<root>';
    if (node === null || typeof node !== 'object' || Array.isArray(node)) {
      problems.push(`${at}: schema must be an object`);
      return;
    }
    for (const key of Object.keys(node)) {
      if (!KNOWN_KEYWORDS.has(key)) problems.push(`${at}: unknown keyword "${key}"`);
    }
    for (const key of FORBIDDEN) if (node[key] !== undefined) problems.push(`${at}: "${key}" is not allowed`);
    const intOrString = node[X_INT_OR_STRING] === true;
    const preserve = node[X_PRESERVE_UNKNOWN];
    if (preserve !== undefined && preserve !== true)
      problems.push(`${at}: ${X_PRESERVE_UNKNOWN} must be true`);
    if (!node.type && !intOrString && preserve !== true) problems.push(`${at}: missing type`);
    if (node.type && !['object', 'array', 'string', 'integer', 'number', 'boolean'].includes(node.type)) {
      problems.push(`${at}: invalid type ${JSON.stringify(node.type)}`);
    }
    if (intOrString && node.type) problems.push(`${at}: int-or-string must not set type`);
    for (const junctor of ['allOf', 'oneOf', 'not']) {
      if (node[junctor] !== undefined) problems.push(`${at}: "${junctor}" is not used by this library`);
    }
    if (node['anyOf'] !== undefined) {
      const branches = node['anyOf'] as JSONSchemaProps[];
      const intOrStringBranches =
        intOrString &&
        branches.length === 2 &&
        branches.some((b) => b.type === 'integer') &&
        branches.some((b) => b.type === 'string') &&
        branches.every((b) => Object.keys(b).length === 1);
      if (!intOrStringBranches) {
        for (const b of branches) {
          for (const k of STRUCTURAL_IN_JUNCTORS) {
            if (b[k] !== undefined) problems.push(`${at}: anyOf branch must not set "${k}"`);
          }
        }
      }
    }
    if (node['additionalProperties'] !== undefined) {
      if (node['properties'] !== undefined)
        problems.push(`${at}: additionalProperties together with properties`);
      if (typeof node['additionalProperties'] === 'boolean')
        problems.push(`${at}: additionalProperties must be a schema`);
      else visit(node['additionalProperties'] as JSONSchemaProps, `${path}{}`, false);
    }
    if (node.type === 'array') {
      const items = node['items'];
      if (!items || Array.isArray(items)) problems.push(`${at}: array needs a single items schema`);
      else visit(items as JSONSchemaProps, `${path}[]`, false);
      if (node[X_LIST_TYPE] === 'map') {
        const keys = (node[X_LIST_MAP_KEYS] as string[] | undefined) ?? [];
        const item = (items ?? {}) as JSONSchemaProps;
        const req = (item['required'] as string[] | undefined) ?? [];
        const props = (item['properties'] ?? {}) as Record<string, JSONSchemaProps>;
        if (keys.length === 0) problems.push(`${at}: list-type map needs ${X_LIST_MAP_KEYS}`);
        for (const k of keys) {
          if (!req.includes(k) && props[k]?.['default'] === undefined) {
            problems.push(`${at}: list-map key "${k}" must be required or defaulted`);
          }
        }
      }
    } else if (node['items'] !== undefined) problems.push(`${at}: items on a non-array`);
    if (node.type !== 'object' && (node['properties'] !== undefined || node['required'] !== undefined)) {
      problems.push(`${at}: properties/required on a non-object`);
    }
    const properties = node['properties'] as Record<string, JSONSchemaProps> | undefined;
    for (const r of (node['required'] as string[] | undefined) ?? []) {
      if (!properties || !(r in properties)) problems.push(`${at}: required "${r}" is not a property`);
    }
    const rules = node[X_VALIDATIONS];
    if (rules !== undefined) {
      if (!Array.isArray(rules)) problems.push(`${at}: ${X_VALIDATIONS} must be a list`);
      else
        for (const r of rules as Record<string, unknown>[]) {
          if (typeof r['rule'] !== 'string' || typeof r['message'] !== 'string') {
            problems.push(`${at}: every ${X_VALIDATIONS} item needs a rule and a message`);
          }
          for (const k of Object.keys(r)) {
            if (k !== 'rule' && k !== 'message')
              problems.push(`${at}: ${X_VALIDATIONS} key "${k}" needs Kubernetes ≥ 1.27`);
          }
        }
    }
    if (isRoot) {
      const meta = properties?.['metadata'];
      if (meta) {
        if (meta.type !== 'object') problems.push('metadata: must be type object');
        const metaProps = (meta['properties'] ?? {}) as Record<string, JSONSchemaProps>;
        for (const k of Object.keys(metaProps)) {
          if (k !== 'name' && k !== 'generateName')
            problems.push(`metadata.${k}: only name and generateName may be restricted`);
        }
        for (const k of Object.keys(meta)) {
          if (!['type', 'properties', 'description'].includes(k))
            problems.push(`metadata: "${k}" is not allowed`);
        }
      }
      if (node['default'] !== undefined) problems.push('<root>: default not allowed at the root');
    }
    if (properties) {
      for (const [key, child] of Object.entries(properties)) {
        if (isRoot && key === 'metadata') continue;
        visit(child, path ? `${path}.${key}` : key, false);
      }
    }
    for (const b of (node['anyOf'] as JSONSchemaProps[] | undefined) ?? []) {
      for (const k of Object.keys(b))
        if (!KNOWN_KEYWORDS.has(k)) problems.push(`${at}: unknown keyword "${k}" in anyOf`);
    }
  };
  visit(root, '', true);
  return problems;
}

/** A deep copy of `schema` without `x-kubernetes-validations` anywhere (for API servers < 1.25). */
export function stripCelRules<T>(schema: T): T {
  if (Array.isArray(schema)) return schema.map((x) => stripCelRules(x)) as T;
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema as Record<string, unknown>)) {
    // `default` values are data, not schema: copy them verbatim.
    if (key === X_VALIDATIONS) continue;
    out[key] = key === 'default' || key === 'enum' ? structuredClone(value) : stripCelRules(value);
  }
  return out as T;
}
