/**
 * Applying built manifests to a real API server: discovery (kind → resource, served versions),
 * server-side dry run, real creation, waiting for CRDs, and the check that the server kept every
 * field we sent (an API server of 1.20 silently drops unknown fields instead of rejecting them).
 */
import { groupOf, isPlainObject, type Json, type KObject } from './objects';
import { type ApiResource, KubeClient, collectionPath } from './kube';

export interface ResolvedKind {
  /** The apiVersion actually used against this server. */
  apiVersion: string;
  plural: string;
  namespaced: boolean;
  /** Set when the manifest's apiVersion is not served and a served version of the group was used. */
  fallbackFrom?: string;
}

interface GroupList {
  groups: Array<{
    name: string;
    versions: Array<{ groupVersion: string }>;
    preferredVersion: { groupVersion: string };
  }>;
}

export class Discovery {
  private readonly cache = new Map<string, ApiResource[] | null>();
  private groups?: GroupList;

  constructor(private readonly client: KubeClient) {}

  /** Forgets what was discovered (after CRDs were added). */
  reset(): void {
    this.cache.clear();
    this.groups = undefined;
  }

  async resources(apiVersion: string): Promise<ApiResource[] | null> {
    if (!this.cache.has(apiVersion)) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      const res = await this.client.request<{ resources: ApiResource[] }>('GET', path);
      this.cache.set(apiVersion, res.status === 200 ? res.body.resources : null);
    }
    return this.cache.get(apiVersion) ?? null;
  }

  async groupVersions(group: string): Promise<string[]> {
    if (group === '') return ['v1'];
    this.groups ??= (await this.client.request<GroupList>('GET', '/apis')).body;
    const g = this.groups.groups.find((x) => x.name === group);
    if (!g) return [];
    const preferred = g.preferredVersion.groupVersion;
    return [preferred, ...g.versions.map((v) => v.groupVersion).filter((v) => v !== preferred)];
  }

  /** Every served resource (with subresources) of every group version, for RBAC enumeration. */
  async everything(): Promise<Array<{ group: string; resource: ApiResource }>> {
    this.groups ??= (await this.client.request<GroupList>('GET', '/apis')).body;
    const out: Array<{ group: string; resource: ApiResource }> = [];
    const versions = ['v1', ...this.groups.groups.flatMap((g) => g.versions.map((v) => v.groupVersion))];
    for (const gv of versions) {
      for (const r of (await this.resources(gv)) ?? []) out.push({ group: groupOf(gv), resource: r });
    }
    return out;
  }

  /** The resource of `o`'s kind; falls back to another served version of the group (recorded). */
  async resolve(o: KObject): Promise<ResolvedKind | undefined> {
    const find = async (apiVersion: string): Promise<ApiResource | undefined> =>
      (await this.resources(apiVersion))?.find((r) => r.kind === o.kind && !r.name.includes('/'));
    const direct = await find(o.apiVersion);
    if (direct) return { apiVersion: o.apiVersion, plural: direct.name, namespaced: direct.namespaced };
    for (const gv of await this.groupVersions(groupOf(o.apiVersion))) {
      const r = await find(gv);
      if (r) return { apiVersion: gv, plural: r.name, namespaced: r.namespaced, fallbackFrom: o.apiVersion };
    }
    return undefined;
  }
}

export interface ApplyResult {
  object: KObject;
  status: number;
  body: Record<string, unknown>;
  resolved?: ResolvedKind;
}

/**
 * POSTs `o` (with `?dryRun=All` when `dryRun`). When the object exists (409) it is replaced instead
 * (PUT over the stored resourceVersion; dry run or real), so reruns on the same server validate and
 * install the current manifests; a successful replacement is reported as 201 too.
 */
export async function createObject(
  client: KubeClient,
  discovery: Discovery,
  o: KObject,
  dryRun: boolean,
): Promise<ApplyResult> {
  const resolved = await discovery.resolve(o);
  if (!resolved)
    return { object: o, status: 0, body: { message: `kind ${o.apiVersion} ${o.kind} is not served` } };
  const sent: KObject = { ...o, apiVersion: resolved.apiVersion };
  const path = collectionPath(
    resolved.apiVersion,
    resolved.plural,
    resolved.namespaced ? o.metadata.namespace : undefined,
  );
  const query = dryRun ? '?dryRun=All&fieldManager=k8s-test' : '?fieldManager=k8s-test';
  const res = await client.request<Record<string, unknown>>('POST', path + query, sent);
  if (res.status !== 409) return { object: o, status: res.status, body: res.body, resolved };
  const itemPath = `${path}/${o.metadata.name}`;
  const current = await client.request<{ metadata?: { resourceVersion?: string } }>('GET', itemPath);
  const replacement: KObject = {
    ...sent,
    metadata: { ...sent.metadata, resourceVersion: current.body.metadata?.resourceVersion ?? '' },
  };
  const put = await client.request<Record<string, unknown>>('PUT', itemPath + query, replacement);
  return { object: o, status: put.status === 200 ? 201 : put.status, body: put.body, resolved };
}

/** Waits until every CRD named is Established (the API server serves its kind). */
export async function waitForCrds(
  client: KubeClient,
  names: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const name of names) {
    for (;;) {
      const res = await client.request<{ status?: { conditions?: Array<{ type: string; status: string }> } }>(
        'GET',
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
      );
      if (res.body.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100)); // polling the API server: there is no event to await
    }
  }
}

/**
 * Paths (`a.b[0].c`) of the values in `sent` that `returned` does not hold: fields the server
 * dropped (unknown to it, or pruned by a structural CRD schema) or changed. Values the server adds
 * (defaults) are fine. `ignoreKeys` are field names known to be newer than the server.
 */
export function droppedFields(
  sent: Json,
  returned: Json,
  ignoreKeys: ReadonlySet<string> = new Set(),
  path = '',
): string[] {
  if (Array.isArray(sent)) {
    if (!Array.isArray(returned)) return [path || '.'];
    return sent.flatMap((item, i) => droppedFields(item, returned[i] ?? null, ignoreKeys, `${path}[${i}]`));
  }
  if (isPlainObject(sent)) {
    if (!isPlainObject(returned)) return [path || '.'];
    return Object.entries(sent).flatMap(([key, value]) => {
      if (ignoreKeys.has(key)) return [];
      const child = path ? `${path}.${key}` : key;
      return key in returned ? droppedFields(value, returned[key], ignoreKeys, child) : [child];
    });
  }
  return sent === returned || String(sent) === String(returned)
    ? []
    : [`${path} (${JSON.stringify(sent)} → ${JSON.stringify(returned)})`];
}
