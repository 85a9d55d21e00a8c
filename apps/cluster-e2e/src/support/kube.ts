/**
 * The cluster as a user drives it: the machine's kubectl (KUBECTL, default /usr/bin/kubectl) with
 * the cluster's kubeconfig (KUBECONFIG, default the admin kubeconfig tools/kcluster/up.sh wrote).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..', '..', '..');
export const KCLUSTER_DIR = process.env['KCLUSTER_DIR'] ?? '/tmp/executor-kcluster';
export const KUBECONFIG = process.env['KUBECONFIG'] ?? join(KCLUSTER_DIR, 'cfg', 'admin.kubeconfig');
export const KUBECTL = process.env['KUBECTL'] ?? '/usr/bin/kubectl';
/** The platform's namespace (k8s/config/deployment); the suites' pools live there too. */
export const NS = 'executor-system';

export function requireCluster(): void {
  if (!existsSync(KUBECONFIG))
    throw new Error(`no cluster: ${KUBECONFIG} is missing (bring it up with tools/kcluster/up.sh)`);
}

/** Runs kubectl and returns stdout; throws with stderr on a non-zero exit. */
export function kubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  try {
    return execFileSync(KUBECTL, ['--kubeconfig', KUBECONFIG, ...args], {
      encoding: 'utf8',
      input: opts.input,
      timeout: opts.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

/** kubectl without blocking the event loop (for calls made while requests are in flight). */
export function kubectlAsync(args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      KUBECTL,
      ['--kubeconfig', KUBECONFIG, ...args],
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) =>
        err
          ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr.trim() || err.message}`))
          : resolve(stdout),
    );
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes objects are read loosely here
export type KObj = Record<string, any>;

export function getJson(args: string[]): KObj {
  return JSON.parse(kubectl([...args, '-o', 'json'])) as KObj;
}

export function apply(manifest: unknown[] | string, namespace = NS): string {
  const input =
    typeof manifest === 'string'
      ? manifest
      : JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifest });
  return kubectl(['apply', '-n', namespace, '-f', '-'], { input });
}

/** Polls `check` until it returns a value (bounded): for conditions only observable by polling. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Pods of a pool, by the operator's pool label (terminating ones only with `terminating`). */
export function poolPods(pool: string, terminating = false): KObj[] {
  return getJson(['get', 'pods', '-n', NS, '-l', `executor.ai-orchestrator.io/pool=${pool}`]).items.filter(
    (p: KObj) => terminating || !p.metadata.deletionTimestamp,
  );
}

export function isReady(pod: KObj): boolean {
  return (pod.status?.conditions ?? []).some((c: KObj) => c.type === 'Ready' && c.status === 'True');
}

/** The ExecutorSession object of a public session id. */
export function executorSession(sessionId: string): KObj | undefined {
  return getJson(['get', 'executorsessions', '-A']).items.find((s: KObj) => s.spec?.sessionId === sessionId);
}
