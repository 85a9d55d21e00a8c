import type { Api } from './api';
import { apply } from './kube';
import { ensurePackageServer } from './packages';
import { REGISTRY, TAG, poolManifest, waitPoolReady } from './platform';

/** The suites' pools (region e2e): python with an offline wheel dir, node with the in-cluster npm registry. */
export const PY_POOL = 'e2e-python';
export const NODE_POOL = 'e2e-node';

export async function ensureSuitePools(api: Api): Promise<void> {
  const npmRegistry = await ensurePackageServer();
  apply([
    poolManifest({
      name: PY_POOL,
      template: 'python',
      replicas: 2,
      image: `${REGISTRY}/executor-python-e2e:${TAG}`,
      env: { PIP_FIND_LINKS: '/opt/e2e-wheels', PIP_NO_INDEX: 'true' },
    }),
    poolManifest({ name: NODE_POOL, template: 'node', replicas: 1, env: { NPM_REGISTRY: npmRegistry } }),
  ]);
  await waitPoolReady(api, PY_POOL, 2);
  await waitPoolReady(api, NODE_POOL, 1);
}
