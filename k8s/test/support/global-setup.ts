/**
 * Starts a throwaway kube-apiserver v1.20.2 + etcd (tools/kube/start.sh, no controller manager) for
 * the *.k8s.spec.ts suites, unless K8S_TEST_KUBECONFIG names a cluster to use instead (it must be
 * disposable: the suites create the executor-system namespace, CRDs and RBAC there).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../lib/paths';

export default function globalSetup(): void {
  if (process.env['K8S_TEST_KUBECONFIG']) return;
  // FORCE_COLOR (set by Nx) makes node's console.log colour the free ports tools/kube picks.
  const { FORCE_COLOR: _color, ...env } = process.env;
  const run = execFileSync('bash', [join(REPO_ROOT, 'tools/kube/start.sh')], {
    env: { ...env, WITH_KCM: '0' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 600_000,
  }).trim();
  process.env['K8S_TEST_RUN_DIR'] = run;
  process.env['K8S_TEST_KUBECONFIG'] = join(run, 'kubeconfig');
}
