/**
 * Writes (or, with --check, verifies) k8s/config/deployment/images/templates.tsv, the package table
 * of the per-template executor images, from libs/templates.
 *
 *   node -r @swc-node/register libs/templates/src/generate/image-table.ts [--check]
 *
 * Exit codes: 0 written / up to date, 1 stale (with --check), 2 error.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IMAGE_TABLE_FILE, renderImageTable, templateImagePackages } from '../lib/image-build';

/** The table as it should be, for the repository at `root`. */
export function wantedImageTable(root: string): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  return renderImageTable(templateImagePackages({ ...pkg.devDependencies, ...pkg.dependencies }));
}

function main(): number {
  const root = process.cwd();
  const file = join(root, IMAGE_TABLE_FILE);
  const wanted = wantedImageTable(root);
  let current: string | null = null;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    current = null;
  }
  if (process.argv.includes('--check')) {
    if (current === wanted) return 0;
    console.error(`${IMAGE_TABLE_FILE} is stale: run npx nx run templates:generate`);
    return 1;
  }
  if (current !== wanted) writeFileSync(file, wanted);
  console.log(`${IMAGE_TABLE_FILE} ${current === wanted ? 'unchanged' : 'written'}`);
  return 0;
}

if (require.main === module) {
  try {
    process.exitCode = main();
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 2;
  }
}
