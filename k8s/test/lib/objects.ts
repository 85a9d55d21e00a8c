/** Kubernetes objects as the tests read them from YAML (kustomize output, manifests, fixtures). */
import { parseAllDocuments } from 'yaml';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A Kubernetes object as read from YAML. */
export interface KObject extends JsonObject {
  apiVersion: string;
  kind: string;
  metadata: JsonObject & { name: string; namespace?: string };
}

/** The API group of an apiVersion (`''` for the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `group/kind/namespace/name`: kustomize's resource identity (version ignored). */
export function resourceId(o: KObject): string {
  return `${groupOf(o.apiVersion)}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/** Parses every non-empty YAML document of `text` into Kubernetes objects (throws on invalid ones). */
export function parseObjects(text: string, source: string): KObject[] {
  const objects: KObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: invalid YAML: ${doc.errors[0].message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (!isPlainObject(value) || typeof value['apiVersion'] !== 'string' || typeof value['kind'] !== 'string')
      throw new Error(`${source}: every document needs apiVersion and kind`);
    const metadata = value['metadata'];
    if (!isPlainObject(metadata) || typeof metadata['name'] !== 'string' || metadata['name'] === '')
      throw new Error(`${source}: ${String(value['kind'])} without metadata.name`);
    objects.push(value as KObject);
  }
  return objects;
}
