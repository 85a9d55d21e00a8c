import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { TEMPLATE_NAMES, getTemplate } from '@executor/templates';

const SCRIPT = join(__dirname, '..', 'scripts', 'install-runtimes.sh');
const print = (...templates: string[]): string[] =>
  execFileSync('bash', [SCRIPT, '--print', ...templates], { encoding: 'utf8' })
    .trim()
    .split('\n');

describe('install-runtimes.sh (the one installer of CI, npm start and images)', () => {
  it.each(TEMPLATE_NAMES.map((n) => [n]))(
    "installs %s's Debian packages, as the template lists them",
    (name) => {
      expect(print(name)).toEqual(expect.arrayContaining([...getTemplate(name).debianPackages]));
    },
  );

  it('always installs the sandbox: bubblewrap, prlimit (util-linux) and python3-seccomp', () => {
    expect(print('bash').slice(0, 3)).toEqual(['bubblewrap', 'util-linux', 'python3-seccomp']);
  });

  it('installs every template when none is named, and refuses an unknown one', () => {
    const all = new Set(print());
    for (const name of TEMPLATE_NAMES)
      for (const p of getTemplate(name).debianPackages) expect(all).toContain(p);
    const bad = spawnSync('bash', [SCRIPT, '--print', 'cobol'], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('unknown template "cobol"');
  });
});
