/**
 * An npm registry inside the cluster (no internet here): a static one — the packument and the
 * tarball of a toy package made with `npm pack` — served by `python3 -m http.server` in a pod of
 * the python executor image, behind a ClusterIP Service. Executors reach it as they would reach a
 * private mirror (NPM_REGISTRY).
 *
 * (pip's offline path is a wheel directory baked into the suites' python image instead: pip ignores
 * plain-http indexes on hosts other than localhost unless told `--trusted-host`, which the
 * executor has no setting for.)
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NS, apply, eventually, getJson, isReady } from './kube';
import { REGISTRY, TAG } from './platform';

export const NPM_PACKAGE = { name: 'e2etoy-js', version: '1.0.0', value: 42 } as const;
const NAME = 'e2e-packages';

function npmPack(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'npm-toy-'));
  try {
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({
        name: NPM_PACKAGE.name,
        version: NPM_PACKAGE.version,
        main: 'index.js',
        license: 'MIT',
      }),
    );
    writeFileSync(join(dir, 'index.js'), `module.exports = ${NPM_PACKAGE.value};\n`);
    const file = execFileSync('npm', ['pack', '--silent'], { cwd: dir, encoding: 'utf8' }).trim();
    return readFileSync(join(dir, file));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Creates (or re-creates) the registry; returns its URL (http://<ClusterIP>/npm/). */
export async function ensurePackageServer(): Promise<string> {
  apply([
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: NAME, namespace: NS },
      spec: { selector: { app: NAME }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    },
  ]);
  const ip = getJson(['get', 'service', '-n', NS, NAME]).spec.clusterIP as string;
  const url = `http://${ip}/npm/`;
  const tgz = npmPack();
  const tarball = `${NPM_PACKAGE.name}-${NPM_PACKAGE.version}.tgz`;
  const packument = {
    name: NPM_PACKAGE.name,
    'dist-tags': { latest: NPM_PACKAGE.version },
    versions: {
      [NPM_PACKAGE.version]: {
        name: NPM_PACKAGE.name,
        version: NPM_PACKAGE.version,
        main: 'index.js',
        dist: {
          tarball: `${url}tarballs/${tarball}`,
          shasum: createHash('sha1').update(tgz).digest('hex'),
          integrity: `sha512-${createHash('sha512').update(tgz).digest('base64')}`,
        },
      },
    },
  };
  apply([
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: NAME, namespace: NS },
      data: { packument: JSON.stringify(packument) },
      binaryData: { tarball: tgz.toString('base64') },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: NAME, namespace: NS },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: NAME } },
        template: {
          metadata: { labels: { app: NAME } },
          spec: {
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: 'http',
                image: `${REGISTRY}/executor-python:${TAG}`,
                imagePullPolicy: 'IfNotPresent',
                command: ['python3', '-m', 'http.server', '8080', '--directory', '/srv'],
                ports: [{ containerPort: 8080 }],
                readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
                resources: { requests: { cpu: '10m', memory: '32Mi' } },
                volumeMounts: [{ name: 'files', mountPath: '/srv' }],
              },
            ],
            volumes: [
              {
                name: 'files',
                configMap: {
                  name: NAME,
                  items: [
                    { key: 'packument', path: `npm/${NPM_PACKAGE.name}` },
                    { key: 'tarball', path: `npm/tarballs/${tarball}` },
                  ],
                },
              },
            ],
          },
        },
      },
    },
  ]);
  await eventually(
    () => {
      const pods = getJson(['get', 'pods', '-n', NS, '-l', `app=${NAME}`]).items;
      return pods.length === 1 && isReady(pods[0]) ? true : undefined;
    },
    120_000,
    'the package server',
    500,
  );
  return url;
}
