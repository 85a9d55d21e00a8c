import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';

const run = promisify(execFile);
const TOOLS = join(__dirname, '..', '..', '..', 'tools', 'kube');

/** Env var through which Jest's globalSetup hands its server to the test files. */
export const RUN_DIR_ENV = 'EXECUTOR_KUBE_RUN_DIR';

/** A real kube-apiserver v1.20 + etcd + kube-controller-manager started by tools/kube/start.sh. */
export interface KubeTestServer {
  readonly runDir: string;
  readonly kubeconfigPath: string;
  readonly kc: k8s.KubeConfig;
  /** Admin bearer token (system:masters). */
  readonly token: string;
  readonly server: string;
  /** Restarts the API server (same port and etcd): every open watch is cut. Resolves when ready again. */
  restart(): Promise<void>;
  /** Stops everything and removes the run directory. */
  stop(): Promise<void>;
}

/** Starts a fresh control plane (builds the binaries into the cache first when missing: ~5 min). */
export async function startKubeApiServer(): Promise<KubeTestServer> {
  const { stdout } = await run('bash', [join(TOOLS, 'start.sh')], {
    maxBuffer: 16 * 1024 * 1024,
    timeout: 15 * 60_000,
  });
  const runDir = stdout.trim().split('\n').pop() as string;
  return attachKubeApiServer(runDir);
}

/** A handle on a control plane already started (e.g. by globalSetup). */
export function attachKubeApiServer(runDir: string): KubeTestServer {
  const kubeconfigPath = join(runDir, 'kubeconfig');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return {
    runDir,
    kubeconfigPath,
    kc,
    token: readFileSync(join(runDir, 'token'), 'utf8').trim(),
    server: kc.getCurrentCluster()?.server as string,
    async restart() {
      await run('bash', [join(TOOLS, 'restart-apiserver.sh'), runDir], { timeout: 120_000 });
    },
    async stop() {
      await run('bash', [join(TOOLS, 'stop.sh'), runDir], { timeout: 60_000 });
    },
  };
}

/** The server of this Jest run (globalSetup), or a new one when the file runs alone. */
export async function kubeServerForTests(): Promise<{ server: KubeTestServer; owned: boolean }> {
  const dir = process.env[RUN_DIR_ENV];
  if (dir) return { server: attachKubeApiServer(dir), owned: false };
  return { server: await startKubeApiServer(), owned: true };
}
