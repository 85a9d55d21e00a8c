import { chmodSync, chownSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { RequestError, Server, type PrepareRequestFunctionOpts } from 'proxy-chain';
import type { IndexHost } from './index-hosts';

/** What one install's proxy let through and refused (for logs and tests). */
export interface ProxyLog {
  allowed: string[];
  denied: string[];
}

export interface IndexProxy {
  readonly socketPath: string;
  readonly log: ProxyLog;
  /** Stops listening and cuts every open tunnel. */
  close(): Promise<void>;
}

/**
 * The package installer's only way out: an HTTP/CONNECT proxy (proxy-chain) reached through a unix
 * socket that is bound into the installer's sandbox alone. It connects to the allowed index hosts
 * (exact host name and port) and answers 403 to anything else — loopback ports, other hosts, the
 * Redis of this pod — without connecting.
 *
 * proxy-chain serves TCP only (it drops connections without a remote address, as unix sockets
 * are), so it listens on an ephemeral port of 127.0.0.1 and the unix socket is piped to it. That
 * port is open only while the install runs and leads to the index hosts only.
 */
export async function startIndexProxy(opts: {
  socketPath: string;
  allow: readonly IndexHost[];
  /** Owner of the socket (the session's uid): only it may connect. */
  uid?: number;
}): Promise<IndexProxy> {
  const allowed = new Set(opts.allow.map((h) => `${h.host.toLowerCase()}:${h.port}`));
  const log: ProxyLog = { allowed: [], denied: [] };
  const server = new Server({
    prepareRequestFunction: ({ hostname, port }: PrepareRequestFunctionOpts) => {
      const target = `${hostname.toLowerCase().replace(/^\[|\]$/g, '')}:${port}`;
      if (!allowed.has(target)) {
        log.denied.push(target);
        throw new RequestError(`${target} is not a package index host of this executor`, 403);
      }
      log.allowed.push(target);
      return {};
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.server.listen(0, '127.0.0.1', () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;
  const pipes = new Set<Socket>();
  const bridge = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      pipes.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        pipes.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      bridge.once('error', reject);
      bridge.listen(opts.socketPath, () => {
        bridge.off('error', reject);
        resolve();
      });
    });
    chmodSync(opts.socketPath, 0o600);
    if (opts.uid !== undefined) chownSync(opts.socketPath, opts.uid, opts.uid);
  } catch (err) {
    await server.close(true);
    throw err;
  }
  return {
    socketPath: opts.socketPath,
    log,
    async close(): Promise<void> {
      for (const s of pipes) s.destroy();
      await Promise.all([new Promise<void>((resolve) => bridge.close(() => resolve())), server.close(true)]);
    },
  };
}
