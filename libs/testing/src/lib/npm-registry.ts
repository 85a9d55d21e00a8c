import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A package the stand-in registry serves (its package.json fields and files). */
export interface RegistryPackage {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  scripts?: Record<string, string>;
  /** Files of the package besides package.json (default: index.js exporting name@version). */
  files?: Record<string, string>;
}

export interface NpmRegistry {
  /** Base URL, with a trailing slash (for NPM_REGISTRY / --registry). */
  readonly url: string;
  readonly port: number;
  /** Request paths received, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

/**
 * A local npm registry with real npm behaviour for tests (no network): each package is packed by
 * `npm pack` (the tarball npm itself would publish), and served with a packument carrying its
 * integrity, the way the public registry does. Listens on 127.0.0.1.
 */
export async function startNpmRegistry(packages: RegistryPackage[]): Promise<NpmRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'npm-registry-'));
  const tarballs = new Map<string, Buffer>();
  const versions = new Map<string, Record<string, Record<string, unknown>>>();
  for (const pkg of packages) {
    const src = join(dir, 'src', `${pkg.name.replace('/', '+')}-${pkg.version}`);
    mkdirSync(src, { recursive: true });
    const manifest = {
      name: pkg.name,
      version: pkg.version,
      main: 'index.js',
      ...(pkg.dependencies ? { dependencies: pkg.dependencies } : {}),
      ...(pkg.scripts ? { scripts: pkg.scripts } : {}),
    };
    writeFileSync(join(src, 'package.json'), JSON.stringify(manifest, null, 2));
    const files = pkg.files ?? {
      'index.js': `module.exports = ${JSON.stringify(`${pkg.name}@${pkg.version}`)};\n`,
    };
    for (const [file, content] of Object.entries(files)) writeFileSync(join(src, file), content);
    const out = join(dir, 'tarballs');
    mkdirSync(out, { recursive: true });
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], {
        cwd: src,
        encoding: 'utf8',
        env: { PATH: process.env['PATH'], HOME: dir },
      }),
    ) as Array<{ filename: string; integrity: string; shasum: string }>;
    if (!packed) throw new Error(`npm pack of ${pkg.name} printed nothing`);
    const file = packed.filename.replace(/^.*\//, '');
    tarballs.set(`/${pkg.name}/-/${file}`, readFileSync(join(out, file)));
    const byVersion = versions.get(pkg.name) ?? {};
    byVersion[pkg.version] = {
      ...manifest,
      dist: { file, integrity: packed.integrity, shasum: packed.shasum },
    };
    versions.set(pkg.name, byVersion);
  }
  const requests: string[] = [];
  let base = '';
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] as string);
    requests.push(path);
    const tarball = tarballs.get(path);
    if (tarball) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tarball);
      return;
    }
    const name = path.slice(1);
    const byVersion = versions.get(name);
    if (!byVersion) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const list = Object.keys(byVersion);
    const packument = {
      name,
      'dist-tags': { latest: list[list.length - 1] },
      versions: Object.fromEntries(
        Object.entries(byVersion).map(([v, m]) => {
          const { dist, ...rest } = m as {
            dist: { file: string; integrity: string; shasum: string };
            scripts?: unknown;
          };
          return [
            v,
            {
              ...rest,
              ...(rest.scripts ? { hasInstallScript: true } : {}),
              dist: {
                tarball: `${base}${name}/-/${dist.file}`,
                integrity: dist.integrity,
                shasum: dist.shasum,
              },
            },
          ];
        }),
      ),
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packument));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  base = `http://127.0.0.1:${port}/`;
  return {
    url: base,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}
