/**
 * `kubectl kustomize <dir>`: the real kustomize (the one built into kubectl, v5.5 in kubectl 1.32),
 * as a user's `kubectl apply -k` builds the overlays. kubectl is required: the tests fail without it.
 */
import { spawnSync } from 'node:child_process';
import { type KObject, parseObjects } from './objects';

/** The kubectl the tests use (KUBECTL, default `kubectl` on PATH). */
export const KUBECTL = process.env['KUBECTL'] ?? 'kubectl';

/** kustomize wraps long base64 values at 76 columns; the API server (Go's base64) ignores the newlines. */
function unwrapSecretData(o: KObject): KObject {
  if (o.kind !== 'Secret' || !o['data']) return o;
  const data = Object.fromEntries(
    Object.entries(o['data'] as Record<string, string>).map(([k, v]) => [k, v.replace(/\s+/g, '')]),
  );
  return { ...o, data };
}

/** Builds the kustomization in `dir` with `kubectl kustomize` (objects in kustomize's order). */
export function kustomizeBuild(dir: string): KObject[] {
  const res = spawnSync(KUBECTL, ['kustomize', dir], {
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.error) throw new Error(`${KUBECTL} kustomize ${dir}: ${res.error.message} (kubectl is required)`);
  if (res.status !== 0) throw new Error(`${KUBECTL} kustomize ${dir} failed: ${res.stderr}`);
  return parseObjects(res.stdout, `kubectl kustomize ${dir}`).map(unwrapSecretData);
}
