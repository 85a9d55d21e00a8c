import type { KubeObject } from './kube-client';

/** `namespace/name` (or `name` for cluster-scoped objects): the work queue key of an object. */
export function objectKey(o: Pick<KubeObject, 'metadata'>): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

export function splitKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

interface PodLike {
  metadata: KubeObject['metadata'];
  status?: { conditions?: { type: string; status: string }[]; phase?: string };
}

/** A pod that is not being deleted and whose Ready condition is True. */
export function isPodReady(pod: PodLike): boolean {
  return (
    !pod.metadata.deletionTimestamp &&
    !!pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

/** Seconds-precision RFC 3339 time, as `metav1.Time` serialises. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
