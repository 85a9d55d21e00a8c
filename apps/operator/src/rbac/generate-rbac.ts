// `nx run operator:generate-rbac` writes the generated RBAC files (k8s/config/rbac/*.generated.yaml)
// from rules.ts and external-metrics-rbac.ts; `nx run operator:check-generated` exits 1 when one of
// them is missing or stale.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EXTERNAL_METRICS_RBAC_FILE, renderExternalMetricsRbacYaml } from './external-metrics-rbac';
import { RBAC_FILE, renderRbacYaml } from './rbac-manifest';

const root = join(__dirname, '..', '..', '..', '..');
const files: [string, string][] = [
  [RBAC_FILE, renderRbacYaml()],
  [EXTERNAL_METRICS_RBAC_FILE, renderExternalMetricsRbacYaml()],
];
let stale = false;
for (const [rel, want] of files) {
  const file = join(root, rel);
  if (process.argv.includes('--check')) {
    const have = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    if (have !== want) {
      process.stderr.write(
        `${rel} is ${have === undefined ? 'missing' : 'stale'}: run \`npx nx run operator:generate-rbac\` and commit it.\n`,
      );
      stale = true;
    } else process.stdout.write(`${rel} is up to date.\n`);
  } else {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, want);
    process.stdout.write(`wrote ${rel}\n`);
  }
}
if (stale) process.exit(1);
