/** Stops the API server that global-setup.ts started (never a cluster given by K8S_TEST_KUBECONFIG). */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../lib/paths';

export default function globalTeardown(): void {
  const run = process.env['K8S_TEST_RUN_DIR'];
  if (!run) return;
  execFileSync('bash', [join(REPO_ROOT, 'tools/kube/stop.sh'), run], { stdio: 'inherit', timeout: 60_000 });
}
