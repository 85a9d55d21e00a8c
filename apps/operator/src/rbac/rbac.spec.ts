import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { EXTERNAL_METRICS_RBAC_FILE, renderExternalMetricsRbacYaml } from './external-metrics-rbac';
import { RBAC_FILE, RBAC_HEADER, rbacObjects, renderRbacYaml } from './rbac-manifest';
import { OPERATOR_RULES } from './rules';

describe('operator RBAC', () => {
  it('renders ServiceAccount, ClusterRole and ClusterRoleBinding from the one rule list', () => {
    const text = renderRbacYaml();
    expect(text.startsWith(RBAC_HEADER)).toBe(true);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped YAML documents
    const docs = parseAllDocuments(text).map((d) => d.toJSON() as Record<string, any>);
    expect(docs.map((d) => d['kind'])).toEqual(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding']);
    expect(docs[0]).toMatchObject({ metadata: { name: 'executor-operator', namespace: 'executor-system' } });
    expect(docs[1]?.['rules']).toEqual(
      OPERATOR_RULES.map(({ apiGroups, resources, verbs }) => ({ apiGroups, resources, verbs })),
    );
    expect(docs[2]).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'executor-operator' },
      subjects: [{ kind: 'ServiceAccount', name: 'executor-operator', namespace: 'executor-system' }],
    });
    for (const rule of OPERATOR_RULES) expect(text).toContain(`# ${rule.why}`);
  });

  it('is least privilege: no wildcards, no secrets, no cluster-wide writes beyond its own kinds', () => {
    for (const r of OPERATOR_RULES) {
      expect([...r.apiGroups, ...r.resources, ...r.verbs]).not.toContain('*');
      // Secrets: written (the pools' Redis URLs), never read or listed.
      if (r.resources.includes('secrets')) expect(r.verbs).toEqual(['create', 'patch']);
      expect(r.why.length).toBeGreaterThan(5);
    }
    expect(rbacObjects('x')[0]).toMatchObject({ metadata: { namespace: 'x' } });
  });

  it('matches the committed files (nx run operator:check-generated)', () => {
    for (const [rel, text] of [
      [RBAC_FILE, renderRbacYaml()],
      [EXTERNAL_METRICS_RBAC_FILE, renderExternalMetricsRbacYaml()],
    ] as const) {
      const file = join(__dirname, '..', '..', '..', '..', rel);
      expect(existsSync(file)).toBe(true);
      expect(readFileSync(file, 'utf8')).toBe(text);
    }
  });

  it('External metrics: auth-delegator, the authentication reader, one APIService, one Secret, the HPA reader', () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped YAML documents
    const docs = parseAllDocuments(renderExternalMetricsRbacYaml()).map(
      (d) => d.toJSON() as Record<string, any>,
    );
    const byName = (kind: string, name: string): Record<string, any> | undefined =>
      docs.find((d) => d['kind'] === kind && d['metadata']['name'] === name);
    expect(byName('ClusterRoleBinding', 'executor-operator:system:auth-delegator')?.['roleRef']['name']).toBe(
      'system:auth-delegator',
    );
    expect(byName('RoleBinding', 'executor-operator-auth-reader')).toMatchObject({
      metadata: { namespace: 'kube-system' },
      roleRef: { kind: 'Role', name: 'extension-apiserver-authentication-reader' },
    });
    expect(byName('ClusterRole', 'executor-operator-external-metrics')?.['rules']).toEqual([
      {
        apiGroups: ['apiregistration.k8s.io'],
        resources: ['apiservices'],
        resourceNames: ['v1beta1.external.metrics.k8s.io'],
        verbs: ['get', 'patch'],
      },
    ]);
    expect(byName('Role', 'executor-operator-external-metrics-tls')?.['rules']).toEqual([
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['executor-external-metrics-tls'],
        verbs: ['get', 'update'],
      },
    ]);
    expect(byName('ClusterRoleBinding', 'executor-external-metrics-reader')?.['subjects']).toEqual([
      { kind: 'ServiceAccount', namespace: 'kube-system', name: 'horizontal-pod-autoscaler' },
    ]);
    for (const d of docs.filter((x) => x['rules']))
      for (const r of d['rules']) expect([...r.apiGroups, ...r.resources, ...r.verbs]).not.toContain('*');
  });
});
