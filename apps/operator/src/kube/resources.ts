import { GROUP, KIND_POOL, KIND_SESSION, PLURALS, VERSION } from '@executor/crd';

/** One REST resource of the API server. */
export interface ResourceType {
  readonly group: string; // '' for the core group
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

export const apiVersionOf = (r: ResourceType): string => (r.group ? `${r.group}/${r.version}` : r.version);

/** Collection URL path; all namespaces when `namespace` is empty. */
export function collectionPath(r: ResourceType, namespace?: string): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  return r.namespaced && namespace ? `${base}/namespaces/${namespace}/${r.plural}` : `${base}/${r.plural}`;
}

/** Object URL path, optionally of a subresource (`status`, `scale`). */
export function objectPath(
  r: ResourceType,
  namespace: string | undefined,
  name: string,
  subresource?: string,
): string {
  const p = `${collectionPath(r, r.namespaced ? namespace : undefined)}/${encodeURIComponent(name)}`;
  return subresource ? `${p}/${subresource}` : p;
}

const res = (
  group: string,
  version: string,
  plural: string,
  kind: string,
  namespaced = true,
): ResourceType => ({
  group,
  version,
  plural,
  kind,
  namespaced,
});

/** Every resource the operator reads or writes (versions of HPA/PDB are picked by discovery). */
export const Resources = {
  pool: res(GROUP, VERSION, PLURALS.pool, KIND_POOL),
  session: res(GROUP, VERSION, PLURALS.session, KIND_SESSION),
  deployment: res('apps', 'v1', 'deployments', 'Deployment'),
  service: res('', 'v1', 'services', 'Service'),
  configMap: res('', 'v1', 'configmaps', 'ConfigMap'),
  secret: res('', 'v1', 'secrets', 'Secret'),
  pod: res('', 'v1', 'pods', 'Pod'),
  lease: res('coordination.k8s.io', 'v1', 'leases', 'Lease'),
  hpa: (version: string) =>
    res('autoscaling', version, 'horizontalpodautoscalers', 'HorizontalPodAutoscaler'),
  pdb: (version: string) => res('policy', version, 'poddisruptionbudgets', 'PodDisruptionBudget'),
} as const;
