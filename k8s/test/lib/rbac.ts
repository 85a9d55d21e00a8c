/**
 * RBAC audit against a real API server: what a ServiceAccount's bound (Cluster)Roles declare versus
 * what the authorizer grants it, asked with SelfSubjectAccessReviews while impersonating it.
 */
import { KubeClient } from './kube';
import { type KObject } from './objects';

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

/** One permission: `verb` on `group`/`resource`(`/subresource`), cluster-wide or in `namespace`. */
export interface Permission {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface Subject {
  user: string;
  groups: string[];
}

/** The identity Kubernetes gives a ServiceAccount's token. */
export function serviceAccountSubject(namespace: string, name: string): Subject {
  return {
    user: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
  };
}

export function permissionKey(p: Permission): string {
  const res = p.subresource ? `${p.resource}/${p.subresource}` : p.resource;
  return `${p.verb} ${p.group || 'core'}/${res}${p.name ? `[${p.name}]` : ''}${p.namespace ? ` in ${p.namespace}` : ''}`;
}

interface Binding {
  roleKind: 'ClusterRole' | 'Role';
  roleName: string;
  /** Namespace of a RoleBinding; undefined for a ClusterRoleBinding. */
  namespace?: string;
}

/** Bindings (ClusterRoleBinding, RoleBinding) among `objects` whose subjects include the ServiceAccount. */
export function bindingsOf(objects: readonly KObject[], saNamespace: string, saName: string): Binding[] {
  return objects
    .filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')
    .filter((o) =>
      ((o['subjects'] as Array<{ kind: string; name: string; namespace?: string }> | undefined) ?? []).some(
        (s) =>
          s.kind === 'ServiceAccount' &&
          s.name === saName &&
          (s.namespace ?? o.metadata.namespace) === saNamespace,
      ),
    )
    .map((o) => {
      const ref = o['roleRef'] as { kind: 'ClusterRole' | 'Role'; name: string };
      return {
        roleKind: ref.kind,
        roleName: ref.name,
        namespace: o.kind === 'RoleBinding' ? o.metadata.namespace : undefined,
      };
    });
}

/**
 * Roles every kube-apiserver creates (bootstrap policy, `plugin/pkg/auth/authorizer/rbac/bootstrappolicy`,
 * identical in 1.20 and current releases) that the manifests bind without shipping them: the two an
 * aggregated API server (the operator's External metrics API) binds, as the upstream policy defines them.
 */
const BOOTSTRAP_ROLES: ReadonlyArray<{
  kind: 'ClusterRole' | 'Role';
  name: string;
  namespace?: string;
  rules: PolicyRule[];
}> = [
  {
    kind: 'ClusterRole',
    name: 'system:auth-delegator',
    rules: [
      { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
    ],
  },
  {
    kind: 'Role',
    name: 'extension-apiserver-authentication-reader',
    namespace: 'kube-system',
    rules: [
      {
        apiGroups: [''],
        resources: ['configmaps'],
        resourceNames: ['extension-apiserver-authentication'],
        verbs: ['get', 'list', 'watch'],
      },
    ],
  },
];

/** The rules a ServiceAccount gets from `objects`, with the namespace each applies to (undefined = cluster-wide). */
export function declaredRules(
  objects: readonly KObject[],
  saNamespace: string,
  saName: string,
): Array<{ rule: PolicyRule; namespace?: string; source: string }> {
  return bindingsOf(objects, saNamespace, saName).flatMap((b) => {
    const role =
      objects.find(
        (o) =>
          o.kind === b.roleKind &&
          o.metadata.name === b.roleName &&
          (b.roleKind === 'ClusterRole' || o.metadata.namespace === b.namespace),
      ) ??
      (BOOTSTRAP_ROLES.find(
        (r) =>
          r.kind === b.roleKind &&
          r.name === b.roleName &&
          (r.kind === 'ClusterRole' || r.namespace === b.namespace),
      ) as unknown as KObject | undefined);
    if (!role)
      throw new Error(`${b.roleKind} ${b.roleName} is bound to ${saName} but not part of the manifests`);
    return ((role['rules'] as unknown as PolicyRule[] | undefined) ?? []).map((rule) => ({
      rule,
      namespace: b.namespace,
      source: `${b.roleKind} ${b.roleName}`,
    }));
  });
}

/** Every concrete permission a rule list grants (no wildcards expected). */
export function expandRules(rules: ReturnType<typeof declaredRules>): Permission[] {
  return rules.flatMap(({ rule, namespace }) =>
    (rule.apiGroups ?? []).flatMap((group) =>
      (rule.resources ?? []).flatMap((res) => {
        const [resource, subresource] = res.split('/');
        const names = rule.resourceNames?.length ? rule.resourceNames : [undefined];
        return rule.verbs.flatMap((verb) =>
          names.map((name) => ({ verb, group, resource, subresource, namespace, name })),
        );
      }),
    ),
  );
}

/** Wildcards (`*`) in any rule: a generated least-privilege role must not have any. */
export function wildcards(rules: ReturnType<typeof declaredRules>): string[] {
  return rules
    .filter(({ rule }) => [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...rule.verbs].includes('*'))
    .map(({ source, rule }) => `${source}: ${JSON.stringify(rule)}`);
}

/** Asks the authorizer whether `subject` may do `p` (SelfSubjectAccessReview, impersonating). */
export async function isAllowed(client: KubeClient, subject: Subject, p: Permission): Promise<boolean> {
  const res = await client.request<{ status?: { allowed?: boolean } }>(
    'POST',
    '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
    {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: {
        resourceAttributes: {
          verb: p.verb,
          group: p.group,
          resource: p.resource,
          subresource: p.subresource ?? '',
          namespace: p.namespace ?? '',
          name: p.name ?? '',
        },
      },
    },
    { impersonateUser: subject.user, impersonateGroups: subject.groups },
  );
  if (res.status !== 201) throw new Error(`SelfSubjectAccessReview as ${subject.user}: HTTP ${res.status}`);
  return res.body.status?.allowed === true;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Compares what `subject` is granted with what it declares, over `candidates` (every verb on every
 * served resource): `missing` = declared but not granted, `excess` = granted although not declared
 * and not granted to `baseline` (a ServiceAccount without bindings: what every account gets anyway).
 */
export async function audit(
  client: KubeClient,
  subject: Subject,
  baseline: Subject,
  declared: readonly Permission[],
  candidates: readonly Permission[],
): Promise<{ missing: string[]; excess: string[]; checked: number }> {
  const granted = await mapLimit(declared, 16, (p) => isAllowed(client, subject, p));
  const missing = declared.filter((_, i) => !granted[i]).map(permissionKey);
  const covers = (d: Permission, c: Permission): boolean =>
    d.verb === c.verb &&
    d.group === c.group &&
    d.resource === c.resource &&
    (d.subresource ?? '') === (c.subresource ?? '') &&
    (d.namespace === undefined || d.namespace === c.namespace) &&
    d.name === undefined;
  const undeclared = candidates.filter((c) => !declared.some((d) => covers(d, c)));
  const excessFlags = await mapLimit(undeclared, 16, async (c) => {
    if (!(await isAllowed(client, subject, c))) return false;
    return !(await isAllowed(client, baseline, c));
  });
  const excess = undeclared.filter((_, i) => excessFlags[i]).map(permissionKey);
  return { missing, excess, checked: declared.length + undeclared.length };
}
