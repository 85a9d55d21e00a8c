// `nx run operator:generate-rbac` writes k8s/config/rbac/operator-rbac.generated.yaml from rules.ts;
// `nx run operator:check-generated` exits 1 when that file is missing or stale.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RBAC_FILE, renderRbacYaml } from './rbac-manifest';

const root = join(__dirname, '..', '..', '..', '..');
const file = join(root, RBAC_FILE);
const want = renderRbacYaml();
if (process.argv.includes('--check')) {
  const have = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (have !== want) {
    process.stderr.write(
      `${RBAC_FILE} is ${have === undefined ? 'missing' : 'stale'}: run \`npx nx run operator:generate-rbac\` and commit it.\n`,
    );
    process.exit(1);
  }
  process.stdout.write(`${RBAC_FILE} is up to date.\n`);
} else {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, want);
  process.stdout.write(`wrote ${RBAC_FILE}\n`);
}
