import { type TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { getTemplate, isTemplateName } from '@executor/templates';
import { API_VERSION, KIND_POOL, KIND_SESSION } from './constants';
import {
  ExecutorPoolSchema,
  ExecutorPoolSpecSchema,
  POOL_SPEC_RULES,
  type ExecutorPool,
  type ExecutorPoolSpec,
  type ResolvedPool,
  type ResolvedPoolSpec,
  type ResolvedResourceList,
} from './pool';
import {
  ExecutorSessionSchema,
  ExecutorSessionSpecSchema,
  IMMUTABLE_SESSION_FIELDS,
  type ExecutorSession,
  type ExecutorSessionSpec,
  type ResolvedSession,
  type ResolvedSessionSpec,
} from './session';
import { parseQuantity, quantityString } from './quantity';
import { QUANTITY_PATTERN, X_INT_OR_STRING, X_PRESERVE_UNKNOWN } from './schema-helpers';

/** One problem, on a dotted field path (`spec.minReplicas`, `spec.env[0].name`). */
export interface FieldError {
  readonly field: string;
  readonly message: string;
}

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export interface ValidateOptions {
  /**
   * Fields that are not in the schema: `reject` (default: typos are errors, like `kubectl --validate=strict`)
   * or `prune` (drop them silently, as the API server does).
   */
  readonly unknownFields?: 'reject' | 'prune';
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pointerToField(pointer: string): string {
  let field = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(part)) field += `[${part}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(part)) field += field ? `.${part}` : part;
    else field += `[${JSON.stringify(part)}]`;
  }
  return field;
}

function show(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(
        row[j] + 1,
        row[j - 1] + 1,
        prev + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return row[b.length];
}

/** Removes (and reports) properties the schema does not declare, except where it preserves unknown fields. */
function pruneUnknown(schema: TSchema, value: unknown, field: string, found: FieldError[]): void {
  const s = schema as unknown as Json;
  if (Array.isArray(value) && isObject(s['items'])) {
    value.forEach((item, i) => pruneUnknown(s['items'] as TSchema, item, `${field}[${i}]`, found));
    return;
  }
  if (!isObject(value) || s['type'] !== 'object' || s[X_PRESERVE_UNKNOWN] === true) return;
  const properties = s['properties'] as Record<string, TSchema> | undefined;
  const map = s['patternProperties'] as Record<string, TSchema> | undefined;
  if (map) {
    const valueSchema = Object.values(map)[0];
    for (const [k, v] of Object.entries(value))
      pruneUnknown(valueSchema, v, `${field}[${JSON.stringify(k)}]`, found);
    return;
  }
  if (!properties) return;
  const known = Object.keys(properties);
  for (const key of Object.keys(value)) {
    if (key in properties) {
      pruneUnknown(properties[key], value[key], `${field}.${key}`, found);
      continue;
    }
    const guess = known.find((k) => editDistance(k, key) <= 2);
    found.push({
      field: `${field}.${key}`,
      message: `${field}.${key} is not a known field${guess ? ` (did you mean ${field}.${guess}?)` : ''}`,
    });
    delete value[key];
  }
}

function describeError(error: ValueError, field: string): string {
  const s = error.schema as unknown as Json;
  const got = show(error.value);
  const name = field || 'the object';
  if (error.type === ValueErrorType.ObjectRequiredProperty || error.value === undefined)
    return `${name} is required`;
  if (s[X_INT_OR_STRING] === true || s['pattern'] === QUANTITY_PATTERN) {
    return `${name} must be a Kubernetes quantity such as 500m, 2, 512Mi or 1Gi (got ${got})`;
  }
  if (Array.isArray(s['anyOf'])) {
    const options = (s['anyOf'] as Json[]).map((b) => b['const']).filter((c) => c !== undefined);
    return `${name} must be one of: ${options.join(', ')} (got ${got})`;
  }
  switch (error.type) {
    case ValueErrorType.Literal:
      return `${name} must be ${JSON.stringify(s['const'])} (got ${got})`;
    case ValueErrorType.Integer:
      return `${name} must be an integer (got ${got})`;
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return `${name} must be at least ${String(s['minimum'])} (got ${got})`;
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return `${name} must be at most ${String(s['maximum'])} (got ${got})`;
    case ValueErrorType.String:
      return `${name} must be a string (got ${got})`;
    case ValueErrorType.StringMinLength:
      return `${name} must have at least ${String(s['minLength'])} characters (got ${got})`;
    case ValueErrorType.StringMaxLength:
      return `${name} must have at most ${String(s['maxLength'])} characters`;
    case ValueErrorType.StringPattern:
      return `${name} must match ${String(s['pattern'])} (got ${got})`;
    case ValueErrorType.StringFormat:
      return `${name} must be an RFC 3339 date-time (got ${got})`;
    case ValueErrorType.Boolean:
      return `${name} must be true or false (got ${got})`;
    case ValueErrorType.Object:
      return `${name} must be an object (got ${got})`;
    case ValueErrorType.Array:
      return `${name} must be a list (got ${got})`;
    case ValueErrorType.ArrayMinItems:
      return `${name} must have at least ${String(s['minItems'])} items`;
    case ValueErrorType.ArrayMaxItems:
      return `${name} must have at most ${String(s['maxItems'])} items`;
    default:
      return `${name}: ${error.message} (got ${got})`;
  }
}

/** Schema errors, one per field (the first TypeBox reports there), in document order. */
function schemaErrors(schema: TSchema, value: unknown): FieldError[] {
  const byField = new Map<string, FieldError>();
  for (const error of Value.Errors(schema, value)) {
    const field = pointerToField(error.path);
    // A missing parent already explains errors below it.
    if ([...byField.keys()].some((f) => f !== '' && field.startsWith(`${f}.`))) continue;
    if (!byField.has(field)) byField.set(field, { field, message: describeError(error, field) });
  }
  return [...byField.values()];
}

function checkTypeMeta(obj: Json, kind: string): FieldError[] {
  const errors: FieldError[] = [];
  if (obj['apiVersion'] !== API_VERSION) {
    errors.push({
      field: 'apiVersion',
      message: `apiVersion must be "${API_VERSION}" (got ${show(obj['apiVersion'])})`,
    });
  }
  if (obj['kind'] !== kind)
    errors.push({ field: 'kind', message: `kind must be "${kind}" (got ${show(obj['kind'])})` });
  return errors;
}

function resolveResources(spec: ExecutorPoolSpec): ResolvedPoolSpec['resources'] {
  const defaults = getTemplate(spec.template).defaultResources;
  const req = spec.resources?.requests ?? {};
  const lim = spec.resources?.limits ?? {};
  const pick = (key: 'cpu' | 'memory'): { request: string; limit: string } => {
    const r = req[key];
    const l = lim[key];
    if (r !== undefined && l !== undefined) return { request: quantityString(r), limit: quantityString(l) };
    if (r !== undefined) {
      // Only a request: the limit is the template's, raised to the request if needed.
      const limit = parseQuantity(r) > parseQuantity(defaults.limits[key]) ? r : defaults.limits[key];
      return { request: quantityString(r), limit: quantityString(limit) };
    }
    if (l !== undefined) {
      // Only a limit: the request is the template's, lowered to the limit if needed (as Kubernetes does).
      const request = parseQuantity(l) < parseQuantity(defaults.requests[key]) ? l : defaults.requests[key];
      return { request: quantityString(request), limit: quantityString(l) };
    }
    return { request: defaults.requests[key], limit: defaults.limits[key] };
  };
  const cpu = pick('cpu');
  const memory = pick('memory');
  const requests: ResolvedResourceList = { cpu: cpu.request, memory: memory.request };
  const limits: ResolvedResourceList = { cpu: cpu.limit, memory: memory.limit };
  return { requests, limits };
}

/**
 * `spec` with every schema default applied and `resources` completed from the template's defaults
 * (quantities as strings). Does not validate: use {@link validatePool} for untrusted input.
 * @throws UnknownTemplateError if `spec.template` is not a built-in template.
 */
export function applyPoolDefaults(spec: ExecutorPoolSpec): ResolvedPoolSpec {
  const defaulted = Value.Default(ExecutorPoolSpecSchema, structuredClone(spec)) as ExecutorPoolSpec;
  return { ...defaulted, resources: resolveResources(defaulted) } as ResolvedPoolSpec;
}

/** `spec` with every schema default applied (`persist`, `ttlSeconds`). */
export function applySessionDefaults(spec: ExecutorSessionSpec): ResolvedSessionSpec {
  return Value.Default(ExecutorSessionSpecSchema, structuredClone(spec)) as ResolvedSessionSpec;
}

/** `a=1, b=2` for every `self.<field>` a CEL rule reads (to show the values that broke it). */
function ruleValues(rule: string, self: object): string {
  const fields = [...new Set([...rule.matchAll(/self\.(\w+)/g)].map((m) => m[1]))];
  return fields.map((f) => `${f}=${show((self as Json)[f])}`).join(', ');
}

function resourceErrors(spec: ResolvedPoolSpec): FieldError[] {
  const errors: FieldError[] = [];
  for (const key of ['cpu', 'memory'] as const) {
    const request = spec.resources.requests[key];
    const limit = spec.resources.limits[key];
    if (parseQuantity(request) > parseQuantity(limit)) {
      errors.push({
        field: `spec.resources.requests.${key}`,
        message: `spec.resources.requests.${key} (${request}) must be less than or equal to spec.resources.limits.${key} (${limit})`,
      });
    }
    if (parseQuantity(limit) <= 0) {
      errors.push({
        field: `spec.resources.limits.${key}`,
        message: `spec.resources.limits.${key} must be greater than 0`,
      });
    }
  }
  return errors;
}

/**
 * Validates an `ExecutorPool` the way the API server would (prune or reject unknown fields, apply defaults,
 * check the schema, then the CEL rules, which a 1.20 API server does not enforce) plus checks the API server
 * cannot express (requests ≤ limits after template defaults). On success `value` is the defaulted object.
 */
export function validatePool(obj: unknown, options: ValidateOptions = {}): ValidationResult<ResolvedPool> {
  if (!isObject(obj))
    return {
      ok: false,
      errors: [{ field: '', message: `an ExecutorPool must be an object (got ${show(obj)})` }],
    };
  const copy = structuredClone(obj);
  const errors: FieldError[] = checkTypeMeta(copy, KIND_POOL);
  const unknown: FieldError[] = [];
  pruneUnknown(ExecutorPoolSpecSchema, copy['spec'], 'spec', unknown);
  if (options.unknownFields !== 'prune') errors.push(...unknown);
  if (isObject(copy['spec'])) copy['spec'] = Value.Default(ExecutorPoolSpecSchema, copy['spec']);
  errors.push(
    ...schemaErrors(ExecutorPoolSchema, copy).filter((e) => e.field !== 'apiVersion' && e.field !== 'kind'),
  );
  if (errors.length > 0) return { ok: false, errors };
  const pool = copy as unknown as ExecutorPool;
  const spec = { ...pool.spec, resources: resolveResources(pool.spec) } as ResolvedPoolSpec;
  for (const rule of POOL_SPEC_RULES) {
    if (!rule.check(spec)) {
      errors.push({
        field: `spec.${rule.field}`,
        message: `spec.${rule.message} (${ruleValues(rule.rule, spec)})`,
      });
    }
  }
  errors.push(...resourceErrors(spec));
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: { ...pool, spec } };
}

/** Validates an `ExecutorSession` like {@link validatePool}; on success `value` is the defaulted object. */
export function validateSession(
  obj: unknown,
  options: ValidateOptions = {},
): ValidationResult<ResolvedSession> {
  if (!isObject(obj))
    return {
      ok: false,
      errors: [{ field: '', message: `an ExecutorSession must be an object (got ${show(obj)})` }],
    };
  const copy = structuredClone(obj);
  const errors: FieldError[] = checkTypeMeta(copy, KIND_SESSION);
  const unknown: FieldError[] = [];
  pruneUnknown(ExecutorSessionSpecSchema, copy['spec'], 'spec', unknown);
  if (options.unknownFields !== 'prune') errors.push(...unknown);
  if (isObject(copy['spec'])) copy['spec'] = Value.Default(ExecutorSessionSpecSchema, copy['spec']);
  errors.push(
    ...schemaErrors(ExecutorSessionSchema, copy).filter(
      (e) => e.field !== 'apiVersion' && e.field !== 'kind',
    ),
  );
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: copy as unknown as ResolvedSession };
}

/**
 * Validates an update of a session: `next` must be valid and keep the immutable spec fields of `previous`
 * (the CEL transition rules `self == oldSelf`).
 */
export function validateSessionUpdate(
  previous: ExecutorSession,
  next: unknown,
  options: ValidateOptions = {},
): ValidationResult<ResolvedSession> {
  const result = validateSession(next, options);
  if (!result.ok) return result;
  const errors: FieldError[] = IMMUTABLE_SESSION_FIELDS.filter(
    (f) => previous.spec[f] !== result.value.spec[f],
  ).map((f) => ({
    field: `spec.${f}`,
    message: `spec.${f} is immutable (was ${show(previous.spec[f])}, got ${show(result.value.spec[f])})`,
  }));
  return errors.length > 0 ? { ok: false, errors } : result;
}

/** Formats errors as one line each (`field: message`), for logs and condition messages. */
export function formatErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => e.message).join('; ');
}

/** True if `name` is a template the pool schema accepts (re-exported for convenience). */
export const isPoolTemplate = isTemplateName;
