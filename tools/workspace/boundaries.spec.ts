// Module boundaries are enforced by lint: these tests feed ESLint deliberate violations and
// expect @nx/enforce-module-boundaries (or the testing-lib restriction) to reject them.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

interface LintResult {
  messages: Array<{ ruleId: string | null; message: string }>;
}

/**
 * Lints `code` as the file at `filePath` with the workspace's real ESLint CLI. The file is
 * written for the duration of the call (type-aware lint needs it inside the project's tsconfig).
 */
async function lintAs(filePath: string, code: string): Promise<string[]> {
  const abs = join(root, filePath);
  writeFileSync(abs, code);
  let out: string;
  try {
    out = execFileSync(join(root, 'node_modules/.bin/eslint'), ['--format', 'json', abs], {
      cwd: root,
      encoding: 'utf8',
    });
  } catch (err) {
    out = (err as { stdout: string }).stdout; // exit 1 = lint errors found
  } finally {
    rmSync(abs, { force: true });
  }
  const [result] = JSON.parse(out) as LintResult[];
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('module boundaries', () => {
  it('fails lint when an app imports another app', async () => {
    const msgs = await lintAs(
      'apps/executor/src/boundary-probe.ts',
      "import { x } from '../../load-balancer/src/main';\nexport const y = x;\n",
    );
    expect(msgs.join('\n')).toMatch(/@nx\/enforce-module-boundaries/);
  });

  it('fails lint when a lib imports an app', async () => {
    const msgs = await lintAs(
      'libs/queues/src/boundary-probe.ts',
      "import { x } from '../../../apps/executor/src/main';\nexport const y = x;\n",
    );
    expect(msgs.join('\n')).toMatch(/@nx\/enforce-module-boundaries/);
  });

  it('fails lint when production code imports the testing lib', async () => {
    const msgs = await lintAs(
      'apps/executor/src/boundary-probe.ts',
      "import { startRedis } from '@executor/testing';\nexport const y = startRedis;\n",
    );
    expect(msgs.join('\n')).toMatch(/no-restricted-imports: .*testing/);
  });

  it('accepts a lib import from an app', async () => {
    const msgs = await lintAs(
      'apps/executor/src/boundary-probe.ts',
      "import { QueueNames } from '@executor/queues';\nexport const y: string = QueueNames.snapshot;\n",
    );
    expect(msgs.filter((m) => m.includes('enforce-module-boundaries'))).toEqual([]);
  });
});
