import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** A real, ephemeral redis-server started for one test suite. */
export interface TestRedis {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The temp dir holding its data (AOF/RDB) files. */
  readonly dir: string;
  /** Stops the server (SIGTERM, then SIGKILL) and removes its dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILLs the server, keeping its data dir (to test crash recovery with `restart`). */
  kill(): Promise<void>;
  /** Starts the server again on the same port and dir (AOF is replayed when enabled). */
  restart(): Promise<void>;
}

export interface StartRedisOptions {
  /** Turn on AOF with `appendfsync always` (default false: no persistence, fastest). */
  appendOnly?: boolean;
  /** Extra `--key value` arguments passed to redis-server. */
  args?: string[];
  /** Milliseconds to wait for the server to accept connections (default 10 000). */
  startTimeoutMs?: number;
}

/** Returns a TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

let resolvedBinary: string | undefined;

/** Finds redis-server on PATH (or REDIS_SERVER_BIN), with an error that names the apt package. */
export function redisServerBinary(): string {
  if (resolvedBinary) return resolvedBinary;
  const candidates = [process.env['REDIS_SERVER_BIN'], 'redis-server', '/usr/bin/redis-server'].filter(
    (c): c is string => !!c,
  );
  for (const c of candidates) {
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) {
      resolvedBinary = c;
      return c;
    }
  }
  throw new Error(
    'redis-server was not found on PATH. Install it with `apt-get install -y redis-server` ' +
      '(Debian package "redis-server"), or set REDIS_SERVER_BIN to its path.',
  );
}

function launch(bin: string, port: number, dir: string, opts: StartRedisOptions): ChildProcess {
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--daemonize',
    'no',
    '--protected-mode',
    'yes',
    '--maxmemory-policy',
    'noeviction',
    '--loglevel',
    'warning',
    '--appendonly',
    opts.appendOnly ? 'yes' : 'no',
    ...(opts.appendOnly ? ['--appendfsync', 'always'] : []),
    ...(opts.args ?? []),
  ];
  return spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

async function waitReady(child: ChildProcess, port: number, timeoutMs: number): Promise<void> {
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${output}`);
    if (await ping(port)) return;
    await new Promise((r) => setTimeout(r, 20)); // polling a port: there is no event to wait on
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer on port ${port} within ${timeoutMs} ms: ${output}`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const { Socket } = require('node:net') as typeof import('node:net');
    const s = new Socket();
    let buf = '';
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, '127.0.0.1', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts a real `redis-server` on a free loopback port in a fresh temp dir.
 * Every Redis-backed test in the repository uses this (never a mock).
 */
export async function startRedis(opts: StartRedisOptions = {}): Promise<TestRedis> {
  const bin = redisServerBinary();
  const dir = mkdtempSync(join(tmpdir(), 'executor-redis-'));
  let port = 0;
  let child: ChildProcess | undefined;
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    const c = launch(bin, port, dir, opts);
    try {
      await waitReady(c, port, opts.startTimeoutMs ?? 10_000);
      child = c;
    } catch (err) {
      if (attempt === 4) throw err; // port raced away: try another
    }
  }
  let current = child as ChildProcess;
  let stopped = false;
  // A test process that ends without calling stop() (crash, forced exit) must not leave the
  // server running: kill it on the way out.
  const reap = (): void => {
    if (current.exitCode === null && current.signalCode === null) current.kill('SIGKILL');
  };
  process.once('exit', reap);
  const api: TestRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', reap);
      if (current.exitCode === null && current.signalCode === null) {
        current.kill('SIGTERM');
        const t = setTimeout(() => current.kill('SIGKILL'), 3000);
        await exited(current);
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      current.kill('SIGKILL');
      await exited(current);
    },
    async restart() {
      if (current.exitCode === null && current.signalCode === null) {
        current.kill('SIGTERM');
        await exited(current);
      }
      current = launch(bin, port, dir, opts);
      await waitReady(current, port, opts.startTimeoutMs ?? 10_000);
    },
  };
  return api;
}

/** A prefix unique to this call, for BullMQ queue prefixes and Redis keys in a test. */
export function uniquePrefix(label = 't'): string {
  return `${label}-${process.pid}-${randomBytes(4).toString('hex')}`;
}
