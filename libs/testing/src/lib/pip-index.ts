import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

export interface PipIndex {
  /** The simple index URL (`http://127.0.0.1:<port>/simple/`, for PIP_INDEX_URL). */
  readonly url: string;
  readonly port: number;
  /** Request paths received, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

const normalize = (name: string): string => name.toLowerCase().replace(/[-_.]+/g, '-');

/**
 * A PEP 503 "simple" package index over the wheels and sdists of `dir` (e.g. from
 * {@link buildWheelDir}), on 127.0.0.1, for tests that need pip to use the network path of an
 * index (no PyPI here). Files are matched to projects by the name before their first `-`.
 */
export async function startPipIndex(dir: string): Promise<PipIndex> {
  const requests: string[] = [];
  const files = (): Array<{ file: string; project: string }> =>
    readdirSync(dir)
      .filter((f) => /\.(whl|tar\.gz|zip)$/.test(f))
      .map((file) => ({ file, project: normalize(file.split('-')[0] as string) }));
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] as string);
    requests.push(path);
    const project = /^\/simple\/([^/]+)\/?$/.exec(path);
    if (project) {
      const wanted = normalize(project[1] as string);
      const links = files()
        .filter((f) => f.project === wanted)
        .map((f) => {
          const sha = createHash('sha256')
            .update(readFileSync(join(dir, f.file)))
            .digest('hex');
          return `<a href="/files/${f.file}#sha256=${sha}">${f.file}</a>`;
        });
      if (!links.length) {
        res.writeHead(404).end('not found');
        return;
      }
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end(`<html><body>${links.join('\n')}</body></html>`);
      return;
    }
    const file = /^\/files\/([^/]+)$/.exec(path);
    if (file && files().some((f) => f.file === file[1])) {
      res
        .writeHead(200, { 'content-type': 'application/octet-stream' })
        .end(readFileSync(join(dir, file[1] as string)));
      return;
    }
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/simple/`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
