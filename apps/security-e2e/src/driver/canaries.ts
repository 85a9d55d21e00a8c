// Listeners and files on the host that session code must never reach. Each records what reached
// it, so that an attack fails on the canary's side too, not only on what the session reports.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server } from 'node:net';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface TcpCanary {
  host: string;
  port: number;
  /** Connections accepted (and the first bytes each sent). */
  hits: string[];
  close(): Promise<void>;
}

/** A TCP listener on `host` (127.0.0.1, ::1, or an abstract unix socket path starting with \0). */
export async function tcpCanary(host = '127.0.0.1'): Promise<TcpCanary> {
  const hits: string[] = [];
  const server: Server = createServer((sock) => {
    let first = '';
    hits.push('');
    const idx = hits.length - 1;
    sock.on('data', (d: Buffer) => {
      if (first.length < 200) first += d.toString('latin1');
      hits[idx] = first;
      // answer like a tiny HTTP server, so that an installer that got here fails fast
      sock.end('HTTP/1.0 404 Not Found\r\ncontent-length: 0\r\n\r\n');
    });
    sock.on('error', () => undefined);
    setTimeout(() => sock.destroy(), 2000).unref();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (host.startsWith('\0')) server.listen(host, () => resolve());
    else server.listen(0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? (addr as AddressInfo).port : 0;
  return {
    host,
    port,
    hits,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface UdpCanary {
  host: string;
  port: number;
  hits: string[];
  close(): Promise<void>;
}

/** A UDP socket that records datagrams (a DNS "server" too: it never answers). */
export async function udpCanary(host = '127.0.0.1'): Promise<UdpCanary> {
  const hits: string[] = [];
  const sock: UdpSocket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  sock.on('message', (m: Buffer) => hits.push(m.toString('latin1').slice(0, 200)));
  await new Promise<void>((resolve) => sock.bind(0, host, () => resolve()));
  return {
    host,
    port: sock.address().port,
    hits,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

export interface HostCanaryFiles {
  dir: string;
  /** A readable file whose content session code must never see. */
  file: string;
  content: string;
  /** A file that writes through the file API must never change. */
  writeTarget: string;
  writeContent: string;
  /** A file that deletes through the file API must never remove. */
  deleteTarget: string;
  /** Puts every canary back as it was; returns what had changed (empty when nothing). */
  restore(): string[];
  cleanup(): void;
}

/** World-readable canary files in a host tmp dir (what the issue found readable under npm start). */
export function hostCanaryFiles(): HostCanaryFiles {
  const dir = mkdtempSync(join(tmpdir(), 'security-e2e-canary-'));
  chmodSync(dir, 0o755);
  const tag = randomBytes(12).toString('hex');
  const content = `host-canary-${tag}\n`;
  const file = join(dir, 'canary.txt');
  writeFileSync(file, content, { mode: 0o644 });
  const writeContent = `host-write-canary-${tag}\n`;
  const writeTarget = join(dir, 'write-target.txt');
  writeFileSync(writeTarget, writeContent, { mode: 0o644 });
  const deleteTarget = join(dir, 'delete-target.txt');
  writeFileSync(deleteTarget, 'delete me not\n', { mode: 0o644 });
  return {
    dir,
    file,
    content,
    writeTarget,
    writeContent,
    deleteTarget,
    restore: () => {
      const changed: string[] = [];
      if (!existsSync(file) || readFileSync(file, 'utf8') !== content) {
        changed.push(file);
        writeFileSync(file, content, { mode: 0o644 });
      }
      if (!existsSync(writeTarget) || readFileSync(writeTarget, 'utf8') !== writeContent) {
        changed.push(writeTarget);
        writeFileSync(writeTarget, writeContent, { mode: 0o644 });
      }
      if (!existsSync(deleteTarget)) {
        changed.push(deleteTarget);
        writeFileSync(deleteTarget, 'delete me not\n', { mode: 0o644 });
      }
      for (const f of readdirSync(dir))
        if (![file, writeTarget, deleteTarget].includes(join(dir, f))) {
          changed.push(join(dir, f));
          rmSync(join(dir, f), { recursive: true, force: true });
        }
      return changed;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
