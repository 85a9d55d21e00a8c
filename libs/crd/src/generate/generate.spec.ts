import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import {
  CRD_FILE,
  CRD_FILE_HEADER,
  crdManifests,
  renderCrdYaml,
  structuralViolations,
  type JSONSchemaProps,
} from '../index';
import { generate } from './generate';

const REPO_ROOT = path.resolve(__dirname, '../../../..');
const SCRIPT = path.join(__dirname, 'generate.ts');

function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['-r', '@swc-node/register', SCRIPT, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, SWC_NODE_PROJECT: 'libs/crd/tsconfig.json' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('k8s/config/crd/executor-crd.yaml', () => {
  const text = readFileSync(path.join(REPO_ROOT, CRD_FILE), 'utf8');

  it('is up to date with the TypeBox schemas (else: nx run crd:generate)', () => {
    expect(text === renderCrdYaml() ? 'up to date' : `${CRD_FILE} is stale: run nx run crd:generate`).toBe(
      'up to date',
    );
  });

  it('starts with the GENERATED header and parses as exactly two apiextensions.k8s.io/v1 CRDs', () => {
    expect(text.startsWith(`${CRD_FILE_HEADER}\n`)).toBe(true);
    const docs = parseAllDocuments(text);
    for (const doc of docs) expect(doc.errors).toEqual([]);
    const objects = docs.map(
      (d) => d.toJS() as { apiVersion: string; kind: string; metadata: { name: string } },
    );
    expect(objects.map((o) => [o.apiVersion, o.kind, o.metadata.name])).toEqual([
      ['apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'executorpools.executor.ai-orchestrator.io'],
      ['apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'executorsessions.executor.ai-orchestrator.io'],
    ]);
    expect(objects).toEqual(JSON.parse(JSON.stringify(crdManifests())));
    for (const o of objects as unknown as {
      spec: { versions: { schema: { openAPIV3Schema: JSONSchemaProps } }[] };
    }[]) {
      expect(structuralViolations(o.spec.versions[0].schema.openAPIV3Schema)).toEqual([]);
    }
  });
});

describe('generate', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'crd-gen-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('writes the file, then reports it unchanged / up to date, and stale after an edit', () => {
    expect(generate(root, true).status).toBe('stale');
    expect(generate(root, false).status).toBe('written');
    const file = path.join(root, CRD_FILE);
    expect(readFileSync(file, 'utf8')).toBe(renderCrdYaml());
    expect(generate(root, false).status).toBe('unchanged');
    expect(generate(root, true).status).toBe('up-to-date');
    writeFileSync(file, readFileSync(file, 'utf8').replace('default: 70', 'default: 80'));
    expect(generate(root, true).status).toBe('stale');
  });

  it('CLI --check exits 1 with the fix-it message when stale, 0 when fresh (as CI calls it)', () => {
    const stale = runCli(['--check', '--root', root]);
    expect({ status: stale.status, stderr: stale.stderr.trim() }).toEqual({
      status: 1,
      stderr: 'k8s/config/crd/executor-crd.yaml is stale: run nx run crd:generate',
    });
    expect(runCli(['--root', root]).status).toBe(0);
    const fresh = runCli(['--check', '--root', root]);
    expect({ status: fresh.status, stdout: fresh.stdout.trim() }).toEqual({
      status: 0,
      stdout: 'k8s/config/crd/executor-crd.yaml: up-to-date',
    });
  });

  it('CLI --stdout --target 1.20 prints the CEL-free variant; bad arguments exit 2', () => {
    const out = runCli(['--stdout', '--target', '1.20']);
    expect(out.status).toBe(0);
    expect(out.stdout).toBe(renderCrdYaml({ targetVersion: '1.20' }));
    const bad = runCli(['--frobnicate']);
    expect({ status: bad.status, stderr: bad.stderr }).toEqual({
      status: 2,
      stderr: expect.stringContaining('Unknown argument "--frobnicate"'),
    });
  });
});
