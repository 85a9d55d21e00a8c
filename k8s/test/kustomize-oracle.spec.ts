/**
 * The TypeScript kustomize subset against the real kustomize (the one built into kubectl) on the
 * repository's own overlays: same objects, field for field. Runs where kubectl with kustomize is
 * installed (this machine: kubectl 1.32 / kustomize v5.5); skipped elsewhere (CI has no kustomize).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { type KObject, kustomizeBuild, legacySort, parseObjects, resourceId } from './lib/kustomize';
import { K8S_DIR, OVERLAYS } from './lib/paths';

function kubectlKustomize(dir: string): KObject[] | undefined {
  const res = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  if (res.error || res.status !== 0) {
    if (res.error) return undefined;
    throw new Error(`kubectl kustomize ${dir} failed: ${res.stderr}`);
  }
  return parseObjects(res.stdout, `kubectl kustomize ${dir}`).map(unwrapSecretData);
}

/** kustomize wraps long base64 values at 76 columns; the API server (Go's base64) ignores the newlines. */
function unwrapSecretData(o: KObject): KObject {
  if (o.kind !== 'Secret' || !o['data']) return o;
  const data = Object.fromEntries(
    Object.entries(o['data'] as Record<string, string>).map(([k, v]) => [k, v.replace(/\s+/g, '')]),
  );
  return { ...o, data };
}

const available =
  spawnSync('kubectl', ['kustomize', '--help'], { encoding: 'utf8', timeout: 30_000 }).status === 0;
const describeIfKubectl = available ? describe : describe.skip;

describeIfKubectl('kustomize subset vs kubectl kustomize', () => {
  it.each([
    ['dev', OVERLAYS.dev],
    ['prod', OVERLAYS.prod],
    ['samples/pools', join(K8S_DIR, 'samples/pools')],
  ])('builds %s identically', (_name, dir) => {
    const expected = kubectlKustomize(dir) as KObject[];
    const actual = kustomizeBuild(dir);
    expect(actual.map(resourceId)).toEqual(legacySort(expected).map(resourceId));
    const byId = new Map(expected.map((o) => [resourceId(o), o]));
    for (const o of actual) expect(o).toEqual(byId.get(resourceId(o)));
  });
});
