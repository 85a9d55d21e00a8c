import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { AclUsers, redisUrlFor, renderAclFile } from '@executor/queues';
import { Platform } from './platform';
import { freePort, startProcess, stopProcess, waitHealthy } from './processes';
import { startRedisServer } from './redis-server';

describe('launcher', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'launcher-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs redis with AOF: acknowledged writes survive a SIGKILL', async () => {
    const server = await startRedisServer({ dir, port: await freePort(), appendfsync: 'always' });
    const c = new Redis(server.url);
    await c.set('k', 'kept');
    expect(await c.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    c.disconnect();
    await server.kill();
    await server.start();
    const again = new Redis(server.url);
    expect(await again.get('k')).toBe('kept');
    again.disconnect();
    await server.stop();
    expect(server.pid).toBeUndefined();
  });

  it('runs redis with a password and the platform ACL users: no anonymous access, each user its own rules', async () => {
    const file = join(dir, 'users.acl');
    const pw = (u: string): string => `pw-${u}-0123456789`;
    writeFileSync(file, renderAclFile(pw));
    const server = await startRedisServer({
      dir,
      port: await freePort(),
      appendfsync: 'everysec',
      acl: { file, user: AclUsers.admin, password: pw(AclUsers.admin) },
    });
    const anonymous = new Redis(`redis://127.0.0.1:${server.port}`, {
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    anonymous.on('error', () => undefined);
    await expect(anonymous.get('x')).rejects.toThrow(/NOAUTH|WRONGPASS|NOPERM/);
    // The default user is off: even AUTH as default (its password "nopass") is refused.
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = connect(server.port, '127.0.0.1', () => sock.write('AUTH default anything\r\n'));
      sock.once('data', (d) => {
        resolve(d.toString());
        sock.destroy();
      });
      sock.once('error', reject);
    });
    expect(reply).toMatch(/^-WRONGPASS/);
    anonymous.disconnect();
    const admin = new Redis(server.url);
    await admin.set('executor:state:x', 'stored');
    const lb = new Redis(redisUrlFor(server.url, AclUsers.loadBalancer, pw(AclUsers.loadBalancer)));
    await expect(lb.get('executor:state:x')).rejects.toThrow(/NOPERM/);
    await expect(lb.set('executor:lb:s:1', 'x')).resolves.toBe('OK');
    // Transactions of the AOF are replayed after a crash (a restricted default user drops them).
    await lb.multi().hset('executor:lb:s:2', 'tenant', 'acme').zadd('executor:lb:expiry', 1, '2').exec();
    lb.disconnect();
    admin.disconnect();
    await new Promise((r) => setTimeout(r, 1500)); // appendfsync everysec
    await server.kill();
    await server.start();
    const again = new Redis(server.url);
    expect(await again.hget('executor:lb:s:2', 'tenant')).toBe('acme');
    expect(await again.get('executor:lb:s:1')).toBe('x');
    again.disconnect();
    await server.stop();
  });

  it('waits for health, and reports a process that dies before it is ready with its output', async () => {
    const dying = startProcess({
      name: 'dying',
      command: process.execPath,
      args: ['-e', 'console.error("bad config: PORT"); process.exit(3)'],
      env: process.env,
      cwd: dir,
      output: 'silent',
      logDir: dir,
    });
    await expect(waitHealthy('http://127.0.0.1:1/health', dying, 10_000)).rejects.toThrow(
      /dying exited before it was ready:\s+bad config: PORT/,
    );

    const port = await freePort();
    const server = startProcess({
      name: 'server',
      command: process.execPath,
      args: ['-e', `require("http").createServer((q, s) => s.end("ok")).listen(${port}, "127.0.0.1")`],
      env: process.env,
      cwd: dir,
      output: 'file',
      logDir: join(dir, 'logs'),
    });
    await waitHealthy(`http://127.0.0.1:${port}/`, server, 10_000);
    await stopProcess(server);
    expect(server.child.exitCode !== null || server.child.signalCode !== null).toBe(true);
    expect(existsSync(join(dir, 'logs', 'server.log'))).toBe(true);
  });

  it('refuses to start twice on the same data dir', async () => {
    const holder = spawn('sleep', ['30']);
    writeFileSync(join(dir, 'platform.pid'), String(holder.pid));
    await expect(
      Platform.start({
        rootDir: dir,
        dataDir: dir,
        apiKeys: 't:k',
        pools: [],
        redisUrl: 'redis://127.0.0.1:1',
      }),
    ).rejects.toThrow(`the platform already runs from ${dir} (pid ${holder.pid})`);
    holder.kill();
  });

  it('names the missing bundle and the command that builds it, and leaves nothing running', async () => {
    const err = await Platform.start({
      rootDir: dir,
      dataDir: join(dir, 'data'),
      apiKeys: 't:k',
      pools: [],
    }).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(
      /dist\/apps\/persistence\/main\.js is missing: build it with `npx nx build persistence`/,
    );
    expect(existsSync(join(dir, 'data', 'platform.pid'))).toBe(false);
  });
});
