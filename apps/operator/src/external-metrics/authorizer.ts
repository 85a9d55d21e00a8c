import type { KubeClient } from '../kube/kube-client';
import type { UserInfo } from './request-header-auth';

/** What a request wants: an API resource (metric reads) or a non-resource path (discovery, OpenAPI). */
export type AccessAttributes =
  | {
      kind: 'resource';
      verb: string;
      group: string;
      version: string;
      resource: string;
      namespace: string;
    }
  | { kind: 'path'; verb: string; path: string };

export interface Decision {
  allowed: boolean;
  reason?: string;
}

export interface Authorizer {
  authorize(user: UserInfo, attrs: AccessAttributes): Promise<Decision>;
}

interface SubjectAccessReviewStatus {
  status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
}

const SAR_PATH = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

/**
 * Delegated authorization: asks the kube-apiserver with a SubjectAccessReview (authorization.k8s.io/v1)
 * whether the request's user may do it, as the generic apiserver's delegating authorizer does, so RBAC
 * decides who reads external metrics (the HPA controller through its ClusterRole binding; admins).
 * Decisions are cached for `ttlMs` (allowed and denied alike, like the generic apiserver's 10 s
 * defaults), keyed by the user and the attributes, at most `maxEntries` of them. The operator needs
 * `create subjectaccessreviews` (ClusterRole system:auth-delegator).
 */
export class SubjectAccessReviewAuthorizer implements Authorizer {
  private readonly cache = new Map<string, { decision: Decision; until: number }>();

  constructor(
    private readonly client: KubeClient,
    private readonly ttlMs: number,
    private readonly maxEntries = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  async authorize(user: UserInfo, attrs: AccessAttributes): Promise<Decision> {
    const spec = {
      user: user.name,
      groups: user.groups,
      ...(Object.keys(user.extra).length > 0 ? { extra: user.extra } : {}),
      ...(attrs.kind === 'resource'
        ? {
            resourceAttributes: {
              verb: attrs.verb,
              group: attrs.group,
              version: attrs.version,
              resource: attrs.resource,
              namespace: attrs.namespace,
            },
          }
        : { nonResourceAttributes: { verb: attrs.verb, path: attrs.path } }),
    };
    const key = JSON.stringify(spec);
    const hit = this.cache.get(key);
    const now = this.now();
    if (hit && hit.until > now) return hit.decision;
    const res = await this.client.create<SubjectAccessReviewStatus>(SAR_PATH, {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec,
    });
    const decision: Decision = {
      allowed: res.status?.allowed === true && res.status.denied !== true,
      reason: res.status?.reason || res.status?.evaluationError || undefined,
    };
    if (this.ttlMs > 0) {
      this.cache.delete(key);
      this.cache.set(key, { decision, until: now + this.ttlMs });
      while (this.cache.size > this.maxEntries) {
        const oldest = this.cache.keys().next().value as string;
        this.cache.delete(oldest);
      }
    }
    return decision;
  }
}
