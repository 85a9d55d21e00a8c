/**
 * Writes (or, with --check, verifies) k8s/config/crd/executor-crd.yaml from the TypeBox schemas.
 *
 *   node -r @swc-node/register libs/crd/src/generate/generate.ts [--check] [--root <repo root>]
 *   node -r @swc-node/register libs/crd/src/generate/generate.ts --stdout [--target 1.20]   (print only)
 *
 * Exit codes: 0 written / up to date, 1 stale or missing (with --check), 2 usage or generation error.
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CRD_FILE, crdManifests, renderCrdYaml, type KubernetesTarget } from '../lib/manifests';
import { structuralViolations } from '../lib/structural';

export interface GenerateResult {
  readonly file: string;
  readonly status: 'written' | 'unchanged' | 'up-to-date' | 'stale';
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Regenerates the CRD file under `root` (`check`: compare only). Throws if a schema is not structural. */
export function generate(root: string, check: boolean): GenerateResult {
  for (const crd of crdManifests()) {
    const versions = crd.spec['versions'] as {
      schema: { openAPIV3Schema: Parameters<typeof structuralViolations>[0] };
    }[];
    const problems = structuralViolations(versions[0].schema.openAPIV3Schema);
    if (problems.length > 0)
      throw new Error(`${crd.metadata.name} is not structural:\n  ${problems.join('\n  ')}`);
  }
  const file = path.join(root, CRD_FILE);
  const wanted = renderCrdYaml();
  const current = readOrNull(file);
  if (check) return { file, status: current === wanted ? 'up-to-date' : 'stale' };
  if (current === wanted) return { file, status: 'unchanged' };
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, wanted);
  return { file, status: 'written' };
}

class UsageError extends Error {}

interface Args {
  check: boolean;
  stdout: boolean;
  root: string;
  target: KubernetesTarget;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { check: false, stdout: false, root: process.cwd(), target: 'latest' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--check') args.check = true;
    else if (arg === '--stdout') args.stdout = true;
    else if (arg === '--root' && argv[i + 1]) args.root = argv[++i];
    else if (arg === '--target' && argv[i + 1]) args.target = argv[++i] as KubernetesTarget;
    else
      throw new UsageError(
        `Unknown argument ${JSON.stringify(arg)}. Usage: generate.ts [--check] [--root DIR] | --stdout [--target 1.20]`,
      );
  }
  args.root = path.resolve(args.root);
  return args;
}

function main(argv: string[]): number {
  const args = parseArgs(argv);
  if (args.stdout) {
    process.stdout.write(renderCrdYaml({ targetVersion: args.target }));
    return 0;
  }
  const result = generate(args.root, args.check);
  const relative = path.relative(args.root, result.file);
  if (result.status === 'stale') {
    process.stderr.write(`${relative} is stale: run nx run crd:generate\n`);
    return 1;
  }
  process.stdout.write(`${relative}: ${result.status}\n`);
  return 0;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    const detail = error instanceof UsageError ? error.message : ((error as Error).stack ?? String(error));
    process.stderr.write(`crd generate failed: ${detail}\n`);
    process.exitCode = 2;
  }
}
