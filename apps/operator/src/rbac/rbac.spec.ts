import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
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

  it('matches the committed file (nx run operator:check-generated)', () => {
    const file = join(__dirname, '..', '..', '..', '..', RBAC_FILE);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(renderRbacYaml());
  });
});
