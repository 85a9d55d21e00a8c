/**
 * The strategic-merge-patch subset that the overlays of k8s/ use, with kustomize's semantics:
 * maps merge recursively, `null` deletes a key, lists of the built-in types listed in
 * {@link MERGE_KEYS} merge element-wise by their patch merge key, every other list is replaced, and
 * `$patch: delete` / `$patch: replace` work on maps and on keyed list elements. Kinds outside the
 * built-in API groups (custom resources) get a JSON merge patch (RFC 7386), as kustomize does.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** Thrown for a patch that uses a directive this subset does not implement. */
export class PatchError extends Error {
  override readonly name = 'PatchError';
}

/**
 * Patch merge keys of the lists that the built-in types merge (from the Kubernetes API's
 * `patchMergeKey` tags), by field name. `ports` is context dependent: a Service's ports merge by
 * `port`, a container's by `containerPort`.
 */
export const MERGE_KEYS: Readonly<Record<string, string>> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  topologySpreadConstraints: 'topologyKey',
  hostAliases: 'ip',
  ownerReferences: 'uid',
  conditions: 'type',
};

const UNSUPPORTED_DIRECTIVES = ['$retainKeys', '$setElementOrder', '$deleteFromPrimitiveList'];

/** API groups whose kinds are built-in types (strategic merge); everything else is a custom resource. */
const BUILTIN_GROUPS = new Set([
  '',
  'apps',
  'batch',
  'policy',
  'autoscaling',
  'networking.k8s.io',
  'rbac.authorization.k8s.io',
  'storage.k8s.io',
  'scheduling.k8s.io',
  'coordination.k8s.io',
  'apiextensions.k8s.io',
]);

/** The API group of an `apiVersion` (`''` for the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function clone<T extends Json>(value: T): T {
  return structuredClone(value);
}

/** RFC 7386 JSON merge patch. */
export function jsonMergePatch(target: Json, patch: Json): Json {
  if (!isPlainObject(patch)) return clone(patch);
  const result: JsonObject = isPlainObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = jsonMergePatch(result[key] ?? null, value);
  }
  return result;
}

function mergeKeyFor(field: string, path: readonly string[], kind: string): string | undefined {
  if (field === 'ports') return kind === 'Service' && path.join('.') === 'spec' ? 'port' : 'containerPort';
  return MERGE_KEYS[field];
}

function checkDirectives(patch: JsonObject): void {
  for (const key of Object.keys(patch)) {
    if (UNSUPPORTED_DIRECTIVES.some((d) => key.startsWith(d))) {
      throw new PatchError(`strategic merge directive ${key} is not supported by this kustomize subset`);
    }
  }
  const directive = patch['$patch'];
  if (directive !== undefined && directive !== 'delete' && directive !== 'replace' && directive !== 'merge') {
    throw new PatchError(
      `unknown $patch directive ${JSON.stringify(directive)} (expected delete, replace or merge)`,
    );
  }
}

function withoutDirective(patch: JsonObject): JsonObject {
  const { $patch: _directive, ...rest } = patch;
  return rest;
}

/**
 * Merges a keyed list like kustomize (kyaml) does: the patch's elements first, in patch order (each
 * merged into the original element with the same key, if any), then the original elements the patch
 * does not mention, in their order; `$patch: delete` elements remove theirs.
 */
function mergeList(
  target: Json[],
  patch: Json[],
  key: string,
  path: readonly string[],
  kind: string,
): Json[] {
  const keyOf = (item: Json): Json | undefined => (isPlainObject(item) ? item[key] : undefined);
  const merged: Json[] = [];
  const mentioned = new Set<Json>();
  for (const element of patch) {
    if (!isPlainObject(element) || !(key in element)) {
      throw new PatchError(`list ${path.join('.')} merges by "${key}": every patch element needs it`);
    }
    checkDirectives(element);
    mentioned.add(element[key]);
    if (element['$patch'] === 'delete') continue;
    const original = target.find((item) => keyOf(item) === element[key]);
    merged.push(
      strategicMerge(original === undefined ? null : original, withoutDirective(element), path, kind),
    );
  }
  const untouched = target.filter((item) => !mentioned.has(keyOf(item) ?? null)).map((item) => clone(item));
  return [...merged, ...untouched];
}

/**
 * Strategic merge of `patch` into `target` for an object of kind `kind` (built-in types only; use
 * {@link patchObject} to pick the right algorithm by apiVersion). `path` is the field path of `target`.
 */
export function strategicMerge(target: Json, patch: Json, path: readonly string[], kind: string): Json {
  if (!isPlainObject(patch)) return clone(patch);
  checkDirectives(patch);
  if (patch['$patch'] === 'replace') return clone(withoutDirective(patch));
  const result: JsonObject = isPlainObject(target) ? clone(target) : {};
  for (const [field, value] of Object.entries(withoutDirective(patch))) {
    const childPath = [...path, field];
    if (value === null) {
      delete result[field];
    } else if (isPlainObject(value) && value['$patch'] === 'delete') {
      delete result[field];
    } else if (Array.isArray(value)) {
      const key = mergeKeyFor(field, path, kind);
      const current = result[field];
      result[field] =
        key && Array.isArray(current) ? mergeList(current, value, key, childPath, kind) : clone(value);
    } else {
      result[field] = strategicMerge(result[field] ?? null, value, childPath, kind);
    }
  }
  return result;
}

/** Applies a patch document to a resource: strategic merge for built-in kinds, JSON merge patch otherwise. */
export function patchObject(target: JsonObject, patch: JsonObject): JsonObject {
  const apiVersion = String(target['apiVersion'] ?? '');
  const kind = String(target['kind'] ?? '');
  const merged = BUILTIN_GROUPS.has(groupOf(apiVersion))
    ? strategicMerge(target, patch, [], kind)
    : jsonMergePatch(target, withoutDirective(patch));
  if (!isPlainObject(merged)) throw new PatchError(`patching ${kind} produced a non-object`);
  return merged;
}
