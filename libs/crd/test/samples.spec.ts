import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { TEMPLATE_NAMES } from '@executor/templates';
import { KIND_POOL, KIND_SESSION, formatErrors, validatePool, validateSession } from '../src/index';

const SAMPLES = path.resolve(__dirname, '../../../k8s/samples');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(full);
    return /\.ya?ml$/.test(entry.name) && entry.name !== 'kustomization.yaml' ? [full] : [];
  });
}

function load(file: string): Record<string, unknown>[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'));
  for (const d of docs) if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0].message}`);
  return docs.map((d) => d.toJS() as Record<string, unknown>);
}

const files = yamlFiles(SAMPLES);

describe('k8s/samples', () => {
  it('has one pool per built-in template and at least one session', () => {
    expect(
      readdirSync(path.join(SAMPLES, 'pools'))
        .filter((f) => f.endsWith('-pool.yaml'))
        .sort(),
    ).toEqual(TEMPLATE_NAMES.map((t) => `${t}-pool.yaml`).sort());
    expect(files).toContain(path.join(SAMPLES, 'session.yaml'));
  });

  it.each(files.map((f) => [path.relative(SAMPLES, f), f]))(
    '%s validates (strict: no unknown fields)',
    (_name, file) => {
      const objects = load(file);
      expect(objects.length).toBeGreaterThan(0);
      for (const obj of objects) {
        expect([KIND_POOL, KIND_SESSION]).toContain(obj['kind']);
        const result = obj['kind'] === KIND_POOL ? validatePool(obj) : validateSession(obj);
        expect(result.ok ? 'valid' : formatErrors(result.errors)).toBe('valid');
      }
    },
  );

  it('names each pool sample <template>-pool with spec.template = <template>', () => {
    for (const template of TEMPLATE_NAMES) {
      const [pool] = load(path.join(SAMPLES, 'pools', `${template}-pool.yaml`));
      expect(pool).toMatchObject({ metadata: { name: `${template}-pool` }, spec: { template } });
    }
  });

  it('lists every pool sample in pools/kustomization.yaml', () => {
    const [kustomization] = load(path.join(SAMPLES, 'pools', 'kustomization.yaml'));
    expect([...(kustomization['resources'] as string[])].sort()).toEqual(
      TEMPLATE_NAMES.map((t) => `${t}-pool.yaml`).sort(),
    );
  });

  it('references an existing sample pool from the sample session', () => {
    const [session] = load(path.join(SAMPLES, 'session.yaml'));
    const spec = session['spec'] as { pool: string; template: string };
    const [pool] = load(path.join(SAMPLES, 'pools', `${spec.template}-pool.yaml`));
    expect((pool['metadata'] as { name: string }).name).toBe(spec.pool);
  });
});
