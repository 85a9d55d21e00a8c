import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@executor/testing';
import { locateOwnCgroups } from '../../src/sandbox/cgroups';
import { PodDriver, executorConfig, type Harness } from '../harness';

/** The built executor (the test target builds it first: `dependsOn: build`). */
export const BUNDLE = join(__dirname, '../../../../dist/apps/executor/main.js');

/** uid of the non-root executor in these tests (not a user of this machine, outside SANDBOX_UID_BASE + slots). */
export const NONROOT_UID = 39_990;

let counter = 0;

/** Resolves when `child` prints a line matching `re`; rejects when it exits first. */
function waitForLine(child: ChildProcess, re: RegExp, log: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer): void => {
      for (const line of d.toString().split('\n')) {
        if (!line) continue;
        log.push(line);
        if (re.test(line)) resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) =>
      reject(new Error(`executor exited (${code ?? signal}) before "${re}":\n${log.join('\n')}`)),
    );
  });
}

/**
 * Delegates a cgroup subtree to `uid` as a systemd `Delegate=yes` unit or a Kubernetes node would: a child
 * of this process's own cgroup in every hierarchy carrying pids/memory/cpu, chown-ed (directory and
 * files) to `uid`. Returns the `cgroup.procs` files to join and a cleanup.
 */
function delegateCgroups(name: string, uid: number): { procs: string[]; remove: () => void } {
  const own = locateOwnCgroups(
    readFileSync('/proc/self/cgroup', 'utf8'),
    readFileSync('/proc/self/mountinfo', 'utf8'),
  );
  if (!own.some((o) => o.controllers.includes('pids')) || !own.some((o) => o.controllers.includes('memory')))
    throw new Error(`this machine has no pids/memory cgroup to delegate: ${JSON.stringify(own)}`);
  const dirs = own.map((o) => join(o.dir, name));
  for (const d of dirs) {
    mkdirSync(d);
    chownSync(d, uid, uid);
    for (const f of readdirSync(d)) chownSync(join(d, f), uid, uid);
  }
  const removeTree = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true }))
      if (e.isDirectory()) removeTree(join(dir, e.name));
    for (let i = 0; i < 100; i++) {
      for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone
        }
      }
      try {
        rmdirSync(dir);
        return;
      } catch {
        execFileSync('/bin/sleep', ['0.02']);
      }
    }
  };
  return { procs: dirs.map((d) => join(d, 'cgroup.procs')), remove: () => dirs.forEach(removeTree) };
}

/** A PodDriver of the bundle in a child process. */
export type BundlePod = PodDriver & { log: string[]; pid: number; exited: Promise<void> };

export interface BundleOptions {
  /** Run as this uid (non-root) instead of root. */
  uid?: number;
  /** Delegate a cgroup subtree to the (non-root) executor. Default true. */
  delegateCgroup?: boolean;
  /** Size of the tmpfs the test mounts at WORKSPACE_ROOT for a non-root executor (its volume, like an emptyDir). */
  volumeBytes?: number;
  /** Inodes of that volume. */
  volumeInodes?: number;
  env?: Record<string, string>;
}

/**
 * Starts `node dist/apps/executor/main.js` as a child process — as root, or as an unprivileged uid in a
 * cgroup subtree delegated to it — and returns a PodDriver for it. Logs are kept in `log`.
 */
export async function startBundlePod(
  h: Harness,
  template: string,
  extra: Record<string, string>,
  opts: BundleOptions = {},
): Promise<BundlePod> {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npx nx build executor\` first`);
  const n = ++counter;
  const cfg = executorConfig(h, template, {
    WORKSPACE_ROOT: `/tmp/executor-bundle-${process.pid}-${n}`,
    ...extra,
  });
  const uid = opts.uid;
  const cleanups: Array<() => void> = [];
  let procs: string[] = [];
  if (uid !== undefined) {
    mkdirSync(cfg.WORKSPACE_ROOT, { recursive: true });
    execFileSync('/bin/mount', [
      '-t',
      'tmpfs',
      '-o',
      `size=${opts.volumeBytes ?? 512 * 1024 * 1024},nr_inodes=${opts.volumeInodes ?? 100_000},mode=0711,uid=${uid},gid=${uid}`,
      'executor-test-volume',
      cfg.WORKSPACE_ROOT,
    ]);
    cleanups.push(() => execFileSync('/bin/umount', ['-l', cfg.WORKSPACE_ROOT]));
    if (opts.delegateCgroup !== false) {
      const d = delegateCgroups(`executor-test-${process.pid}-${n}`, uid);
      procs = d.procs;
      cleanups.push(d.remove);
    }
  }
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: '/usr/bin:/bin',
    HOME: uid !== undefined ? '/nonexistent' : (process.env['HOME'] ?? '/root'),
    POOL_NAME: cfg.POOL_NAME,
    POD_NAME: cfg.POD_NAME,
    TEMPLATE: template,
    REDIS_URL: h.redis.url,
    QUEUE_PREFIX: h.prefix,
    PORT: String(port),
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'WORKSPACE_ROOT')),
    WORKSPACE_ROOT: cfg.WORKSPACE_ROOT,
    SANDBOX: cfg.SANDBOX,
    WARM_KERNELS: String(cfg.WARM_KERNELS),
    MAX_SESSIONS: String(cfg.MAX_SESSIONS),
    HEARTBEAT_INTERVAL_MS: String(cfg.HEARTBEAT_INTERVAL_MS),
    ...(opts.env ?? {}),
    EXECUTOR_TEST_CG: procs.join(' '),
  };
  // Join the delegated cgroups first, then become the unprivileged uid (as a container runtime would).
  const drop =
    uid !== undefined ? ['/usr/bin/setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--'] : [];
  const child = spawn(
    '/bin/sh',
    [
      '-c',
      'for f in $EXECUTOR_TEST_CG; do echo $$ > "$f" || exit 125; done; unset EXECUTOR_TEST_CG; exec "$@"',
      'sh',
      ...drop,
      process.execPath,
      BUNDLE,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' },
  );
  const log: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForLine(child, new RegExp(`executor ${cfg.POD_NAME} ready`), log);
  } catch (err) {
    for (const c of cleanups.reverse()) c();
    throw err;
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    for (const c of cleanups.reverse()) c();
    rmSync(cfg.WORKSPACE_ROOT, { recursive: true, force: true });
  };
  const pod = new PodDriver(h, cfg, undefined as never, stop) as BundlePod;
  pod.log = log;
  pod.pid = child.pid as number;
  pod.exited = exited;
  return pod;
}
