import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobError } from '@executor/queues';
import { resolveWorkspacePath } from './workspace-paths';

describe('resolveWorkspacePath', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'ws-'));
    mkdirSync(join(root, 'sub'));
    writeFileSync(join(root, 'sub/a.txt'), 'a');
    symlinkSync('/etc', join(root, 'out'));
    symlinkSync('sub', join(root, 'in'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('resolves plain and not-yet-existing paths inside the workspace', async () => {
    await expect(resolveWorkspacePath(root, 'sub/a.txt')).resolves.toMatch(/sub\/a\.txt$/);
    await expect(resolveWorkspacePath(root, 'new/dir/file.txt')).resolves.toMatch(/new\/dir\/file\.txt$/);
    await expect(resolveWorkspacePath(root, './sub//a.txt')).resolves.toMatch(/sub\/a\.txt$/);
    await expect(resolveWorkspacePath(root, 'in/a.txt')).resolves.toMatch(/in\/a\.txt$/);
  });

  it.each(['', '/etc/passwd', '../x', 'a/../../x', 'sub/..', 'out/passwd', 'out', 'out/new', 'a\0b', '.'])(
    'refuses %p with invalid_argument',
    async (p) => {
      const err = await resolveWorkspacePath(root, p).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(JobError);
      expect((err as JobError).code).toBe('invalid_argument');
    },
  );
});
