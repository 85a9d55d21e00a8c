/**
 * Test helper: a throwaway Kubernetes 1.20 API server (tools/kube/start.sh, without the controller
 * manager) and a minimal raw HTTPS client for it. Raw JSON on purpose: CRDs must reach the server
 * exactly as generated (a typed client would re-serialise them).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '../../..');

function withoutColor(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { FORCE_COLOR: _forceColor, ...rest } = env;
  return rest;
}

export interface KubeResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export class TestKubeApi {
  private constructor(
    readonly runDir: string,
    private readonly port: number,
    private readonly token: string,
    private readonly ca: Buffer,
  ) {}

  static start(): TestKubeApi {
    const runDir = execFileSync('bash', [path.join(REPO_ROOT, 'tools/kube/start.sh')], {
      // FORCE_COLOR (set by nx) makes tools/kube's `node -e console.log(port)` print ANSI-coloured ports.
      env: { ...withoutColor(process.env), NO_COLOR: '1', WITH_KCM: '0' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 600_000,
    }).trim();
    const env = readFileSync(path.join(runDir, 'env'), 'utf8');
    const port = Number(/^API_PORT=(\d+)$/m.exec(env)?.[1]);
    const token = readFileSync(path.join(runDir, 'token'), 'utf8').trim();
    const ca = readFileSync(path.join(runDir, 'pki/apiserver.crt'));
    return new TestKubeApi(runDir, port, token, ca);
  }

  stop(): void {
    execFileSync('bash', [path.join(REPO_ROOT, 'tools/kube/stop.sh'), this.runDir], { stdio: 'inherit' });
  }

  request<T = Record<string, unknown>>(
    method: string,
    urlPath: string,
    body?: unknown,
    headers: { contentType?: string; accept?: string } = {},
  ): Promise<KubeResponse<T>> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path: urlPath,
          ca: this.ca,
          headers: {
            authorization: `Bearer ${this.token}`,
            'content-type': headers.contentType ?? 'application/json',
            accept: headers.accept ?? 'application/json',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, body: (text ? JSON.parse(text) : {}) as T });
          });
        },
      );
      req.on('error', reject);
      if (body !== undefined) req.write(JSON.stringify(body));
      req.end();
    });
  }

  /** Resolves when the watched object satisfies `done` (a watch, not polling); rejects after `timeoutMs`. */
  waitFor(
    listPath: string,
    name: string,
    done: (obj: Record<string, unknown>) => boolean,
    timeoutMs = 30_000,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const selector = encodeURIComponent(`metadata.name=${name}`);
      const req = https.request(
        {
          host: '127.0.0.1',
          port: this.port,
          path: `${listPath}?watch=1&fieldSelector=${selector}`,
          ca: this.ca,
          headers: { authorization: `Bearer ${this.token}` },
        },
        (res) => {
          let buffer = '';
          res.on('data', (chunk: Buffer) => {
            buffer += chunk.toString('utf8');
            let newline: number;
            while ((newline = buffer.indexOf('\n')) >= 0) {
              const line = buffer.slice(0, newline);
              buffer = buffer.slice(newline + 1);
              const event = JSON.parse(line) as { object: Record<string, unknown> };
              if (done(event.object)) {
                clearTimeout(timer);
                req.destroy();
                resolve();
              }
            }
          });
        },
      );
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`timed out waiting for ${listPath}/${name}`));
      }, timeoutMs);
      req.on('error', (error) => {
        if (!req.destroyed) reject(error);
      });
      req.end();
    });
  }
}
