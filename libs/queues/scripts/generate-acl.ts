// Writes (or with --check, verifies) k8s/config/deployment/redis-acl.generated.yaml.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ACL_MANIFEST_PATH, aclConfigMapYaml } from '../src/lib/acl-manifest';

const file = join(__dirname, '..', '..', '..', ACL_MANIFEST_PATH);
const want = aclConfigMapYaml();
if (process.argv.includes('--check')) {
  if (readFileSync(file, 'utf8') !== want) {
    process.stderr.write(`${ACL_MANIFEST_PATH} is out of date: run npx nx run queues:generate-acl\n`);
    process.exit(1);
  }
} else {
  writeFileSync(file, want);
  process.stdout.write(`wrote ${ACL_MANIFEST_PATH}\n`);
}
