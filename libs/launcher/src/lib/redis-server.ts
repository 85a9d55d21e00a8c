import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import Redis from 'ioredis';
import { startProcess, stopProcess, type ManagedProcess } from './processes';

export interface RedisServer {
  /** URL of the admin user (with its password when the server has an ACL file). */
  readonly url: string;
  readonly port: number;
  /** PID of the running server, if any. */
  readonly pid: number | undefined;
  /** (Re)starts the server on the same port and data dir. */
  start(): Promise<void>;
  /** SIGKILL (a crash); data survives per the AOF policy. */
  kill(): Promise<void>;
  /** Clean shutdown (SIGTERM: redis fsyncs the AOF). */
  stop(): Promise<void>;
}

/** The Redis settings the platform needs (see docs/operations.md). */
export function platformRedisArgs(appendfsync: 'always' | 'everysec'): string[] {
  return [
    '--appendonly',
    'yes',
    '--appendfsync',
    appendfsync,
    '--maxmemory-policy',
    'noeviction',
    '--save',
    '',
    '--protected-mode',
    'yes',
  ];
}

/** Finds redis-server, with an error that says how to install it. */
export function findRedisServer(): string {
  const bin = process.env['REDIS_SERVER_BIN'] ?? 'redis-server';
  if (spawnSync(bin, ['--version']).status !== 0) {
    throw new Error(
      'redis-server is not installed: run `apt-get install -y redis-server` (as root), or set REDIS_SERVER_BIN',
    );
  }
  return bin;
}

/**
 * Starts a redis-server child with AOF in `dir`, bound to 127.0.0.1. With `acl`, the server
 * loads its users from `acl.file` (no anonymous access) and `url` carries the admin user.
 */
export async function startRedisServer(opts: {
  dir: string;
  port: number;
  appendfsync: 'always' | 'everysec';
  acl?: { file: string; user: string; password: string };
}): Promise<RedisServer> {
  const bin = findRedisServer();
  mkdirSync(opts.dir, { recursive: true });
  let proc: ManagedProcess | undefined;
  const base = new URL(`redis://127.0.0.1:${opts.port}`);
  if (opts.acl) {
    base.username = encodeURIComponent(opts.acl.user);
    base.password = encodeURIComponent(opts.acl.password);
  }
  const url = base.toString().replace(/\/$/, '');
  const server: RedisServer = {
    url,
    port: opts.port,
    get pid() {
      return proc && proc.child.exitCode === null ? proc.child.pid : undefined;
    },
    async start() {
      proc = startProcess({
        name: 'redis',
        command: bin,
        args: [
          '--port',
          String(opts.port),
          '--bind',
          '127.0.0.1',
          '--dir',
          opts.dir,
          ...platformRedisArgs(opts.appendfsync),
          ...(opts.acl ? ['--aclfile', opts.acl.file] : []),
        ],
        env: process.env,
        cwd: opts.dir,
        output: 'silent',
        logDir: opts.dir,
      });
      await waitRedis(url, proc);
    },
    async kill() {
      if (proc) await stopProcess(proc, 'SIGKILL');
    },
    async stop() {
      if (proc) await stopProcess(proc, 'SIGTERM', 10_000);
    },
  };
  await server.start();
  return server;
}

async function waitRedis(url: string, proc: ManagedProcess): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`redis-server exited: ${proc.tail()}`);
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined); // refused while it starts: the loop retries
    try {
      await c.connect();
      // While the AOF is loading, redis answers LOADING: wait for a real PONG.
      if ((await c.ping()) === 'PONG') return;
    } catch {
      // not up yet
    } finally {
      c.disconnect();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on ${url} did not become ready: ${proc.tail()}`);
}
