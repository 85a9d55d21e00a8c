/**
 * A small, strict subset of `kustomize build` (kustomize v5 semantics), enough for k8s/: there is no
 * kustomize binary in CI. Supported kustomization fields: `resources` (files, and directories holding
 * a kustomization), `namespace`, `images`, `patches` (strategic merge / JSON merge patch documents
 * from `path` or inline `patch`, optional `target`), `configMapGenerator` / `secretGenerator`
 * (`literals`, `files`, `envs`, `behavior`, `options.labels|annotations`) and `generatorOptions`.
 * Anything else is a {@link KustomizeError}, never silently ignored. Name-suffix hashes are not
 * implemented: generators need `disableNameSuffixHash: true`.
 *
 * Like kustomize (LoadRestrictionsRootOnly), a file resource or patch must be inside the
 * kustomization's directory, and a directory resource may not contain a kustomization being built.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { groupOf, isPlainObject, type Json, type JsonObject, patchObject } from './strategic-merge';

/** A Kubernetes object as read from YAML. */
export interface KObject extends JsonObject {
  apiVersion: string;
  kind: string;
  metadata: JsonObject & { name: string; namespace?: string };
}

export class KustomizeError extends Error {
  override readonly name = 'KustomizeError';
}

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const SUPPORTED_FIELDS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'namespace',
  'images',
  'patches',
  'configMapGenerator',
  'secretGenerator',
  'generatorOptions',
]);

/** Kinds that are cluster-scoped (the namespace transformer leaves them alone). */
export const CLUSTER_SCOPED_KINDS = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'APIService',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'IngressClass',
  'RuntimeClass',
  'CSIDriver',
  'Node',
  'PodSecurityPolicy',
]);

/** kustomize's "legacy" output order: these kinds first, in this order, webhooks last. */
const ORDER_FIRST = [
  'Namespace',
  'ResourceQuota',
  'StorageClass',
  'CustomResourceDefinition',
  'ServiceAccount',
  'PodSecurityPolicy',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'ConfigMap',
  'Secret',
  'Endpoints',
  'Service',
  'LimitRange',
  'PriorityClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'Deployment',
  'StatefulSet',
  'CronJob',
  'PodDisruptionBudget',
];
const ORDER_LAST = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'];

/** `group/kind/namespace/name`: kustomize's resource identity (version ignored). */
export function resourceId(o: KObject): string {
  return `${groupOf(o.apiVersion)}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

function kindRank(kind: string): number {
  const first = ORDER_FIRST.indexOf(kind);
  if (first >= 0) return first;
  const last = ORDER_LAST.indexOf(kind);
  return last >= 0 ? ORDER_FIRST.length + 1 + last : ORDER_FIRST.length;
}

/** Sorts like kustomize's legacy order (Namespace, CRDs, ServiceAccounts, RBAC, ... first). */
export function legacySort(objects: readonly KObject[]): KObject[] {
  return [...objects].sort(
    (a, b) =>
      kindRank(a.kind) - kindRank(b.kind) ||
      a.kind.localeCompare(b.kind) ||
      (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
      a.metadata.name.localeCompare(b.metadata.name),
  );
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
}

function asObject(value: unknown, where: string): JsonObject {
  if (!isPlainObject(value)) throw new KustomizeError(`${where}: expected a mapping`);
  return value;
}

function asStringList(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new KustomizeError(`${where}: expected a list of strings`);
  }
  return value as string[];
}

function asStringMap(value: unknown, where: string): Record<string, string> {
  if (value === undefined) return {};
  const map = asObject(value, where);
  for (const [k, v] of Object.entries(map)) {
    if (typeof v !== 'string') throw new KustomizeError(`${where}.${k}: expected a string`);
  }
  return map as Record<string, string>;
}

/** Parses every non-empty YAML document of `text` into Kubernetes objects. */
export function parseObjects(text: string, source: string): KObject[] {
  const objects: KObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new KustomizeError(`${source}: invalid YAML: ${doc.errors[0].message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    objects.push(checkObject(value, source));
  }
  return objects;
}

function checkObject(value: unknown, source: string): KObject {
  const o = asObject(value, source);
  const metadata = o['metadata'];
  if (typeof o['apiVersion'] !== 'string' || typeof o['kind'] !== 'string') {
    throw new KustomizeError(`${source}: every document needs apiVersion and kind`);
  }
  if (!isPlainObject(metadata) || typeof metadata['name'] !== 'string' || metadata['name'] === '') {
    throw new KustomizeError(`${source}: ${String(o['kind'])} without metadata.name`);
  }
  return o as KObject;
}

function readKustomization(dir: string): JsonObject {
  const file = KUSTOMIZATION_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!file) throw new KustomizeError(`${dir}: no kustomization.yaml (a directory resource must hold one)`);
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  if (docs.length !== 1 || docs[0].errors.length > 0) {
    throw new KustomizeError(`${file}: expected exactly one valid YAML document`);
  }
  const k = asObject(docs[0].toJS(), file);
  for (const field of Object.keys(k)) {
    if (!SUPPORTED_FIELDS.has(field)) {
      throw new KustomizeError(
        `${file}: field "${field}" is not supported by this kustomize subset (supported: ${[...SUPPORTED_FIELDS].join(', ')})`,
      );
    }
  }
  return k;
}

/** Resolves `entry` relative to `root` and refuses files outside it (kustomize's root-only loading). */
function loadFile(root: string, entry: string, what: string): string {
  const path = resolve(root, entry);
  if (!isInside(root, path)) {
    throw new KustomizeError(`${what} ${entry}: security; file ${path} is not in or below ${root}`);
  }
  if (!existsSync(path)) throw new KustomizeError(`${what} ${entry}: ${path} does not exist`);
  return readFileSync(path, 'utf8');
}

class Accumulator {
  readonly objects: KObject[] = [];

  add(o: KObject, source: string): void {
    const id = resourceId(o);
    if (this.objects.some((x) => resourceId(x) === id)) {
      throw new KustomizeError(`${source}: may not add resource with an already registered id: ${id}`);
    }
    this.objects.push(o);
  }
}

function decodeValue(raw: string): string {
  const trimmed = raw.trim();
  if (trimmed.length >= 2 && ['"', "'"].includes(trimmed[0]) && trimmed.endsWith(trimmed[0])) {
    return trimmed.slice(1, -1);
  }
  return raw;
}

function parseKeyValue(line: string, where: string): [string, string] {
  const eq = line.indexOf('=');
  if (eq <= 0) throw new KustomizeError(`${where}: "${line}" is not KEY=VALUE`);
  return [line.slice(0, eq).trim(), decodeValue(line.slice(eq + 1))];
}

function generatorData(root: string, gen: JsonObject, where: string): Record<string, string> {
  const data: Record<string, string> = {};
  const put = (key: string, value: string): void => {
    if (key in data) throw new KustomizeError(`${where}: key ${key} given twice`);
    data[key] = value;
  };
  for (const literal of asStringList(gen['literals'], `${where}.literals`))
    put(...parseKeyValue(literal, where));
  for (const envFile of asStringList(gen['envs'], `${where}.envs`)) {
    for (const line of loadFile(root, envFile, `${where}.envs`).split(/\r?\n/)) {
      if (line.trim() === '' || line.trim().startsWith('#')) continue;
      put(...parseKeyValue(line, envFile));
    }
  }
  for (const file of asStringList(gen['files'], `${where}.files`)) {
    const eq = file.indexOf('=');
    const [key, path] = eq > 0 ? [file.slice(0, eq), file.slice(eq + 1)] : [basename(file), file];
    put(key, loadFile(root, path, `${where}.files`));
  }
  return data;
}

function generate(
  root: string,
  kind: 'ConfigMap' | 'Secret',
  gen: JsonObject,
  options: JsonObject,
  acc: Accumulator,
  where: string,
): void {
  const name = gen['name'];
  if (typeof name !== 'string' || name === '') throw new KustomizeError(`${where}: name is required`);
  const own = isPlainObject(gen['options']) ? gen['options'] : {};
  const noHash = own['disableNameSuffixHash'] ?? options['disableNameSuffixHash'];
  if (noHash !== true) {
    throw new KustomizeError(
      `${where} ${name}: name suffix hashes are not implemented by this kustomize subset; set generatorOptions.disableNameSuffixHash: true`,
    );
  }
  const labels = {
    ...asStringMap(options['labels'], where),
    ...asStringMap(own['labels'], `${where}.options.labels`),
  };
  const annotations = {
    ...asStringMap(options['annotations'], where),
    ...asStringMap(own['annotations'], `${where}.options.annotations`),
  };
  const namespace = typeof gen['namespace'] === 'string' ? gen['namespace'] : undefined;
  const raw = generatorData(root, gen, `${where} ${name}`);
  const data: Record<string, string> =
    kind === 'Secret'
      ? Object.fromEntries(
          Object.entries(raw).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')]),
        )
      : raw;
  const behavior = gen['behavior'] ?? 'create';
  const existing = acc.objects.find(
    (o) =>
      o.kind === kind &&
      o.metadata.name === name &&
      (namespace === undefined || o.metadata.namespace === namespace),
  );
  if (behavior === 'create') {
    const metadata: KObject['metadata'] = { name };
    if (namespace) metadata.namespace = namespace;
    if (Object.keys(labels).length > 0) metadata['labels'] = labels;
    if (Object.keys(annotations).length > 0) metadata['annotations'] = annotations;
    const o: KObject = { apiVersion: 'v1', kind, metadata, data };
    if (kind === 'Secret') o['type'] = typeof gen['type'] === 'string' ? gen['type'] : 'Opaque';
    acc.add(o, where);
    return;
  }
  if (behavior !== 'merge' && behavior !== 'replace') {
    throw new KustomizeError(`${where} ${name}: behavior must be create, merge or replace`);
  }
  if (!existing)
    throw new KustomizeError(`${where} ${name}: behavior ${behavior} needs an existing ${kind} ${name}`);
  const previous = isPlainObject(existing['data']) ? existing['data'] : {};
  existing['data'] = behavior === 'merge' ? { ...previous, ...data } : data;
  const meta = existing.metadata;
  if (Object.keys(labels).length > 0)
    meta['labels'] = { ...asStringMap(meta['labels'], 'labels'), ...labels };
  if (Object.keys(annotations).length > 0) {
    meta['annotations'] = { ...asStringMap(meta['annotations'], 'annotations'), ...annotations };
  }
}

interface Target {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

function matchesTarget(o: KObject, t: Target): boolean {
  const slash = o.apiVersion.indexOf('/');
  const version = slash < 0 ? o.apiVersion : o.apiVersion.slice(slash + 1);
  const re = (pattern: string | undefined, value: string): boolean =>
    pattern === undefined || new RegExp(`^(?:${pattern})$`).test(value);
  return (
    re(t.group, groupOf(o.apiVersion)) &&
    re(t.version, version) &&
    re(t.kind, o.kind) &&
    re(t.name, o.metadata.name) &&
    re(t.namespace, o.metadata.namespace ?? '')
  );
}

function applyPatches(root: string, patches: unknown, acc: Accumulator): void {
  if (patches === undefined) return;
  if (!Array.isArray(patches)) throw new KustomizeError(`${root}: patches must be a list`);
  patches.forEach((entry, i) => {
    const where = `${root}: patches[${i}]`;
    const p = asObject(entry, where);
    for (const key of Object.keys(p)) {
      if (!['path', 'patch', 'target', 'options'].includes(key))
        throw new KustomizeError(`${where}: unknown field ${key}`);
    }
    if (p['options'] !== undefined)
      throw new KustomizeError(`${where}: patch options are not supported by this subset`);
    const text =
      typeof p['path'] === 'string'
        ? loadFile(root, p['path'], `${where}.path`)
        : typeof p['patch'] === 'string'
          ? p['patch']
          : undefined;
    if (text === undefined) throw new KustomizeError(`${where}: needs path or patch`);
    const docs = parseAllDocuments(text).map((d) => {
      if (d.errors.length > 0) throw new KustomizeError(`${where}: invalid YAML: ${d.errors[0].message}`);
      return d.toJS() as unknown;
    });
    if (docs.some((d) => Array.isArray(d))) {
      throw new KustomizeError(
        `${where}: JSON 6902 patches are not supported by this subset (use a strategic merge patch)`,
      );
    }
    const target =
      p['target'] === undefined ? undefined : (asObject(p['target'], `${where}.target`) as Target);
    for (const doc of docs) {
      if (doc === null || doc === undefined) continue;
      const patch = asObject(doc, where);
      applyOnePatch(patch, target, acc, where);
    }
  });
}

function applyOnePatch(patch: JsonObject, target: Target | undefined, acc: Accumulator, where: string): void {
  let matches: KObject[];
  if (target) {
    matches = acc.objects.filter((o) => matchesTarget(o, target));
  } else {
    const p = checkObject(patch, where);
    matches = acc.objects.filter(
      (o) =>
        groupOf(o.apiVersion) === groupOf(p.apiVersion) &&
        o.kind === p.kind &&
        o.metadata.name === p.metadata.name &&
        (p.metadata.namespace === undefined || o.metadata.namespace === p.metadata.namespace),
    );
  }
  if (matches.length === 0) throw new KustomizeError(`${where}: no resource matches the patch`);
  for (const o of matches) {
    const index = acc.objects.indexOf(o);
    if (patch['$patch'] === 'delete') {
      acc.objects.splice(index, 1);
      continue;
    }
    const body: JsonObject = target
      ? patch
      : { ...patch, metadata: { ...(patch['metadata'] as JsonObject) } };
    if (!target) {
      // The identifying fields select the target; they are not changes.
      delete (body['metadata'] as JsonObject)['name'];
      delete (body['metadata'] as JsonObject)['namespace'];
    }
    acc.objects[index] = checkObject(patchObject(o, body), where);
  }
}

function setNamespace(acc: Accumulator, namespace: string, root: string): void {
  for (const o of acc.objects) {
    if (CLUSTER_SCOPED_KINDS.has(o.kind)) continue;
    if (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') {
      throw new KustomizeError(
        `${root}: the namespace transformer on ${o.kind} subjects is not supported by this subset`,
      );
    }
    o.metadata.namespace = namespace;
  }
}

interface ImageRef {
  name: string;
  tag?: string;
  digest?: string;
}

/** Splits `registry:port/repo:tag@digest` into its parts. */
export function parseImage(image: string): ImageRef {
  const at = image.indexOf('@');
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const rest = at >= 0 ? image.slice(0, at) : image;
  const colon = rest.lastIndexOf(':');
  const hasTag = colon > rest.lastIndexOf('/');
  return {
    name: hasTag ? rest.slice(0, colon) : rest,
    tag: hasTag ? rest.slice(colon + 1) : undefined,
    digest,
  };
}

function setImages(acc: Accumulator, images: unknown, root: string): void {
  if (images === undefined) return;
  if (!Array.isArray(images)) throw new KustomizeError(`${root}: images must be a list`);
  const rules = images.map((entry, i) => {
    const rule = asObject(entry, `${root}: images[${i}]`);
    for (const key of Object.keys(rule)) {
      if (!['name', 'newName', 'newTag', 'digest'].includes(key)) {
        throw new KustomizeError(`${root}: images[${i}]: unknown field ${key}`);
      }
    }
    if (typeof rule['name'] !== 'string') throw new KustomizeError(`${root}: images[${i}]: name is required`);
    return asStringMap(rule, `${root}: images[${i}]`);
  });
  const rewrite = (container: Json): void => {
    if (!isPlainObject(container) || typeof container['image'] !== 'string') return;
    const ref = parseImage(container['image']);
    const rule = rules.find((r) => r['name'] === ref.name);
    if (!rule) return;
    const name = rule['newName'] ?? ref.name;
    if (rule['digest']) container['image'] = `${name}@${rule['digest']}`;
    else if (rule['newTag']) container['image'] = `${name}:${rule['newTag']}`;
    else container['image'] = `${name}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
  };
  const walk = (node: Json): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (isPlainObject(node)) {
      for (const [key, value] of Object.entries(node)) {
        if ((key === 'containers' || key === 'initContainers') && Array.isArray(value))
          value.forEach(rewrite);
        walk(value);
      }
    }
  };
  acc.objects.forEach(walk);
}

function build(dir: string, visited: readonly string[]): KObject[] {
  const root = resolve(dir);
  const k = readKustomization(root);
  const acc = new Accumulator();
  for (const entry of asStringList(k['resources'], `${root}: resources`)) {
    const path = resolve(root, entry);
    if (existsSync(path) && statSync(path).isDirectory()) {
      const cycle = [...visited, root].find((v) => isInside(path, v));
      if (cycle)
        throw new KustomizeError(
          `${root}: cycle detected: candidate root ${path} contains visited root ${cycle}`,
        );
      for (const o of build(path, [...visited, root])) acc.add(o, `${root}: ${entry}`);
    } else {
      for (const o of parseObjects(loadFile(root, entry, 'resource'), join(root, entry)))
        acc.add(o, `${root}: ${entry}`);
    }
  }
  const options =
    k['generatorOptions'] === undefined ? {} : asObject(k['generatorOptions'], `${root}: generatorOptions`);
  const generators: Array<['ConfigMap' | 'Secret', string]> = [
    ['ConfigMap', 'configMapGenerator'],
    ['Secret', 'secretGenerator'],
  ];
  for (const [kind, field] of generators) {
    const list = k[field];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new KustomizeError(`${root}: ${field} must be a list`);
    list.forEach((gen, i) =>
      generate(root, kind, asObject(gen, `${root}: ${field}[${i}]`), options, acc, `${root}: ${field}[${i}]`),
    );
  }
  applyPatches(root, k['patches'], acc);
  if (k['namespace'] !== undefined) {
    if (typeof k['namespace'] !== 'string') throw new KustomizeError(`${root}: namespace must be a string`);
    setNamespace(acc, k['namespace'], root);
  }
  setImages(acc, k['images'], root);
  return acc.objects;
}

/** `kustomize build <dir>`: the objects in kustomize's legacy order. */
export function kustomizeBuild(dir: string): KObject[] {
  return legacySort(build(dir, []));
}
