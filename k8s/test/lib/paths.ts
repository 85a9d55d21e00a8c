import { join, resolve } from 'node:path';

/** The repository root. */
export const REPO_ROOT = resolve(__dirname, '../../..');
/** k8s/ (K8S_TEST_DIR: another copy of it, e.g. with a stand-in for a file another team has not generated yet). */
export const K8S_DIR = process.env['K8S_TEST_DIR'] ?? join(REPO_ROOT, 'k8s');
/** k8s/config/deployment/ */
export const DEPLOYMENT_DIR = join(K8S_DIR, 'config/deployment');
/** The overlays that the tests build. */
export const OVERLAYS = { dev: join(K8S_DIR, 'overlays/dev'), prod: join(K8S_DIR, 'overlays/prod') } as const;
/** The generated RBAC of the operator (owned by the operator; read, never written, here). */
export const OPERATOR_RBAC_FILE = join(K8S_DIR, 'config/rbac/operator-rbac.generated.yaml');
/** The app Dockerfiles. */
export const APP_DOCKERFILES = {
  executor: join(REPO_ROOT, 'apps/executor/Dockerfile'),
  'load-balancer': join(REPO_ROOT, 'apps/load-balancer/Dockerfile'),
  persistence: join(REPO_ROOT, 'apps/persistence/Dockerfile'),
  operator: join(REPO_ROOT, 'apps/operator/Dockerfile'),
} as const;
/** The per-template executor image Dockerfile. */
export const TEMPLATE_DOCKERFILE = join(DEPLOYMENT_DIR, 'images/Dockerfile');
