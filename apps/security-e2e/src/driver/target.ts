/**
 * What the suite attacks. The remote part is all an API client has (any deployment: npm start,
 * a Kubernetes cluster); `local` is what the test process can see of a platform on this machine
 * (host files, processes, Redis credentials), used for host canaries and for positive controls.
 */
export interface SecurityTarget {
  baseUrl: string;
  tenantKey: string;
  otherTenantKey: string;
  /** An admin key (EXECUTOR_ADMIN_KEYS); undefined when the deployment has none (the role attacks then fail). */
  adminKey?: string;
  /** Templates used for session code (default python and node). */
  pythonTemplate: string;
  nodeTemplate: string;
  local?: LocalSection;
}

export type Role = 'executor' | 'load-balancer' | 'persistence' | 'redis' | 'platform';

export interface PlatformProcess {
  role: Role;
  pid: number;
  cmdline: string[];
  env: Record<string, string>;
}

export interface LocalSection {
  /** The checkout the platform runs from. */
  rootDir: string;
  /** DATA_DIR of the platform (redis data, workspaces, logs, generated keys). */
  dataDir: string;
  /** Every process of the platform as the test sees it on the host (re-read on demand). */
  processes(): PlatformProcess[];
  ports: { api: number; redis: number; persistence: number };
}

/** Reads a remote target from the environment (SECURITY_E2E_*); throws naming what is missing. */
export function remoteTargetFromEnv(env: NodeJS.ProcessEnv = process.env): SecurityTarget {
  const need = (name: string): string => {
    const v = env[name];
    if (!v) throw new Error(`${name} is required to run the security suite against a remote platform`);
    return v;
  };
  return {
    baseUrl: need('SECURITY_E2E_BASE_URL').replace(/\/+$/, ''),
    tenantKey: need('SECURITY_E2E_TENANT_KEY'),
    otherTenantKey: need('SECURITY_E2E_OTHER_TENANT_KEY'),
    adminKey: env['SECURITY_E2E_ADMIN_KEY'] || undefined,
    pythonTemplate: env['SECURITY_E2E_PYTHON_TEMPLATE'] || 'python',
    nodeTemplate: env['SECURITY_E2E_NODE_TEMPLATE'] || 'node',
  };
}
