import type { KubeClient } from './kube-client';

interface ApiGroupList {
  groups: { name: string; versions: { groupVersion: string; version: string }[] }[];
}

/** The API versions the operator writes, picked from what the server serves. */
export interface ServedVersions {
  hpaApiVersion: 'autoscaling/v2' | 'autoscaling/v2beta2';
  pdbApiVersion: 'policy/v1' | 'policy/v1beta1';
  /** metrics.k8s.io is served (metrics-server): CPU for `scaling.mode: operator`. */
  podMetrics: boolean;
}

/** Reads `/apis` once: autoscaling/v2 where served (≥ 1.23) else v2beta2; policy/v1 PDBs (≥ 1.21) else v1beta1. */
export async function discoverVersions(client: KubeClient): Promise<ServedVersions> {
  const list = await client.get<ApiGroupList>('/apis');
  const served = (group: string): Set<string> =>
    new Set(list.groups.find((g) => g.name === group)?.versions.map((v) => v.version) ?? []);
  const autoscaling = served('autoscaling');
  const policy = served('policy');
  if (!autoscaling.has('v2') && !autoscaling.has('v2beta2')) {
    throw new Error(
      'the API server serves neither autoscaling/v2 nor autoscaling/v2beta2 (Kubernetes < 1.12?)',
    );
  }
  if (!policy.has('v1') && !policy.has('v1beta1'))
    throw new Error('the API server serves no policy PodDisruptionBudget version');
  return {
    hpaApiVersion: autoscaling.has('v2') ? 'autoscaling/v2' : 'autoscaling/v2beta2',
    pdbApiVersion: policy.has('v1') ? 'policy/v1' : 'policy/v1beta1',
    podMetrics: served('metrics.k8s.io').has('v1beta1'),
  };
}
