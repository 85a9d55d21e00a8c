import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  DEFAULT_IMAGE_REGISTRY,
  DEFAULT_IMAGE_TAG,
  KERNEL_KINDS,
  KERNEL_LANGUAGES,
  TEMPLATE_NAMES,
  UnknownTemplateError,
  getTemplate,
  isTemplateName,
  kernelForLanguage,
  kernelTemplateNames,
  listTemplates,
  resolveRunEnv,
  templateImage,
  templateImageName,
  type Template,
  type TemplateName,
} from '../index';

/** Minimal Kubernetes quantity parser for the consistency checks (cpu in cores, memory in bytes). */
function quantity(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  if (!m) throw new Error(`bad quantity ${q}`);
  const factor: Record<string, number> = {
    '': 1,
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return Number(m[1]) * factor[m[2] ?? ''];
}

describe('template catalogue', () => {
  it('has exactly the 14 built-in templates, unique, in TEMPLATE_NAMES order', () => {
    expect(TEMPLATE_NAMES).toEqual([
      'python',
      'python-data',
      'node',
      'typescript',
      'bash',
      'c',
      'cpp',
      'java',
      'rust',
      'go',
      'ruby',
      'r',
      'code-interpreter-v1',
      'base',
    ]);
    expect(new Set(TEMPLATE_NAMES).size).toBe(TEMPLATE_NAMES.length);
    expect(listTemplates().map((t) => t.name)).toEqual([...TEMPLATE_NAMES]);
    expect(new Set(listTemplates().map((t) => t.image)).size).toBe(14);
    expect(new Set(listTemplates().map((t) => t.displayName)).size).toBe(14);
  });

  it('has stateful kernels for python, python-data, node, typescript and the two E2B templates', () => {
    expect(kernelTemplateNames()).toEqual([
      'python',
      'python-data',
      'node',
      'typescript',
      'code-interpreter-v1',
      'base',
    ]);
    expect(KERNEL_KINDS).toEqual(['python', 'node', 'typescript', 'bash']);
    for (const t of listTemplates()) {
      if (t.kernel !== null) {
        expect(KERNEL_KINDS).toContain(t.kernel);
        expect(t.kernels[0]).toBe(t.kernel);
      } else expect(t.kernels).toEqual([]);
      for (const k of t.kernels) expect(KERNEL_KINDS).toContain(k);
    }
    expect(getTemplate('python-data').kernel).toBe('python');
  });

  it('keeps one kernel for the existing templates; the E2B templates have several', () => {
    for (const name of ['python', 'python-data', 'node', 'typescript'] as const) {
      expect(getTemplate(name).kernels).toEqual([getTemplate(name).kernel]);
    }
    expect(getTemplate('bash').kernel).toBeNull(); // one-shot, as before
    expect(getTemplate('code-interpreter-v1').kernels).toEqual(['python', 'node', 'typescript', 'bash']);
    expect(getTemplate('code-interpreter-v1').preinstalledPackages).toEqual(
      expect.arrayContaining(['numpy', 'pandas', 'matplotlib', 'typescript']),
    );
    expect(getTemplate('base').kernels).toEqual(['bash', 'python']);
    expect(getTemplate('base').language).toBe('bash');
  });

  it('maps languages to kernels of a template (aliases included)', () => {
    const ci = getTemplate('code-interpreter-v1');
    expect(kernelForLanguage(ci, 'js')).toBe('node');
    expect(kernelForLanguage(ci, 'JavaScript')).toBe('node');
    expect(kernelForLanguage(ci, 'ts')).toBe('typescript');
    expect(kernelForLanguage(ci, 'python3')).toBe('python');
    expect(kernelForLanguage(ci, 'bash')).toBe('bash');
    expect(kernelForLanguage(ci, 'r')).toBeUndefined();
    expect(kernelForLanguage(getTemplate('base'), 'javascript')).toBeUndefined();
    expect(kernelForLanguage(getTemplate('c'), 'c')).toBeUndefined();
    expect(KERNEL_LANGUAGES.node).toBe('javascript');
  });

  describe.each(TEMPLATE_NAMES.map((n) => [n]))('%s', (name) => {
    const t: Template = getTemplate(name);

    it('has a consistent identity and image', () => {
      expect(t.name).toBe(name);
      expect(t.displayName.length).toBeGreaterThan(0);
      expect(t.image).toBe(`${DEFAULT_IMAGE_REGISTRY}/${templateImageName(name)}:${DEFAULT_IMAGE_TAG}`);
      expect(templateImageName(name)).toBe(name === 'base' ? 'executor-template-base' : `executor-${name}`);
      expect(t.language).toMatch(/^[a-z]+$/);
      expect(t.fileExtension).toMatch(/^\.[A-Za-z]+$/);
    });

    it('has argv run steps whose source file matches the extension', () => {
      const { run } = t;
      expect(run.sourceFile.endsWith(t.fileExtension)).toBe(true);
      expect(path.basename(run.sourceFile)).toBe(run.sourceFile);
      for (const argv of [run.run, ...(run.compile ? [run.compile] : [])]) {
        expect(argv.length).toBeGreaterThan(0);
        // argv, not shell strings: the program is one word and no element smuggles a shell.
        expect(argv[0]).toMatch(/^[\w./+-]+$/);
        expect(['sh', '/bin/sh']).not.toContain(argv[0]);
      }
      const mentioned = [...run.run, ...(run.compile ?? [])];
      expect(mentioned).toContain(run.sourceFile);
      for (const key of run.writableDirEnv ?? []) expect(key).toMatch(/^[A-Z][A-Z0-9_]*$/);
    });

    it('has requests <= limits, valid quantities', () => {
      const { requests, limits } = t.defaultResources;
      expect(quantity(requests.cpu)).toBeLessThanOrEqual(quantity(limits.cpu));
      expect(quantity(requests.memory)).toBeLessThanOrEqual(quantity(limits.memory));
      expect(quantity(requests.memory)).toBeGreaterThanOrEqual(64 * 2 ** 20);
    });

    it('has package manager, Debian packages and version command', () => {
      expect(t.packageManager === null || ['pip', 'npm'].includes(t.packageManager)).toBe(true);
      if (t.kernel === 'python') expect(t.packageManager).toBe('pip');
      if (t.kernel === 'node' || t.kernel === 'typescript') expect(t.packageManager).toBe('npm');
      if (t.packageManager === null) expect(t.preinstalledPackages).toEqual([]);
      expect(t.debianPackages.length).toBeGreaterThan(0);
      for (const p of t.debianPackages) expect(p).toMatch(/^[a-z0-9][a-z0-9+.-]+$/);
      expect(t.versionCommand.length).toBeGreaterThan(0);
    });

    it('is frozen', () => {
      expect(Object.isFrozen(t)).toBe(true);
      expect(Object.isFrozen(t.run.run)).toBe(true);
      expect(() => ((t.defaultResources.limits as { cpu: string }).cpu = '64')).toThrow(TypeError);
    });
  });

  it('python-data ships numpy, pandas and matplotlib, from Debian', () => {
    const t = getTemplate('python-data');
    expect(t.preinstalledPackages).toEqual(['numpy', 'pandas', 'matplotlib']);
    expect(t.debianPackages).toEqual(
      expect.arrayContaining(['python3', 'python3-numpy', 'python3-pandas', 'python3-matplotlib']),
    );
  });

  it('gives java and rust more memory than python', () => {
    const mem = (n: TemplateName): number => quantity(getTemplate(n).defaultResources.limits.memory);
    expect(mem('java')).toBeGreaterThan(mem('python'));
    expect(mem('rust')).toBeGreaterThan(mem('python'));
  });
});

describe('lookup', () => {
  it('getTemplate throws UnknownTemplateError listing every valid name', () => {
    expect(() => getTemplate('cobol')).toThrow(UnknownTemplateError);
    try {
      getTemplate('Python');
      throw new Error('unreachable');
    } catch (err) {
      expect(err).toBeInstanceOf(UnknownTemplateError);
      const message = (err as Error).message;
      expect(message).toContain('"Python"');
      for (const name of TEMPLATE_NAMES) expect(message).toContain(name);
      expect((err as UnknownTemplateError).template).toBe('Python');
    }
  });

  it('rejects prototype keys and non-strings', () => {
    expect(() => getTemplate('toString')).toThrow(UnknownTemplateError);
    expect(() => getTemplate('constructor')).toThrow(UnknownTemplateError);
    expect(isTemplateName('__proto__')).toBe(false);
    expect(isTemplateName(42)).toBe(false);
    expect(isTemplateName(undefined)).toBe(false);
    expect(isTemplateName('go')).toBe(true);
  });
});

describe('templateImage', () => {
  it('names the base template image executor-template-base (executor-base is the executor app image)', () => {
    expect(templateImage('base')).toBe('ghcr.io/executor-platform/executor-template-base:0.1.0');
    expect(templateImage('code-interpreter-v1', { tag: 'v2' })).toBe(
      'ghcr.io/executor-platform/executor-code-interpreter-v1:v2',
    );
  });

  it('builds <registry>/executor-<name>:<tag> with defaults and overrides', () => {
    expect(templateImage('python')).toBe('ghcr.io/executor-platform/executor-python:0.1.0');
    expect(templateImage('python-data', { registry: 'registry.local:5000/exec', tag: 'dev-42' })).toBe(
      'registry.local:5000/exec/executor-python-data:dev-42',
    );
  });

  it('rejects unknown templates, bad registries and bad tags', () => {
    expect(() => templateImage('perl')).toThrow(UnknownTemplateError);
    expect(() => templateImage('go', { registry: 'ghcr.io/org/' })).toThrow(/Invalid image registry/);
    expect(() => templateImage('go', { registry: 'Bad Registry' })).toThrow(/Invalid image registry/);
    expect(() => templateImage('go', { tag: 'has space' })).toThrow(/Invalid image tag/);
    expect(() => templateImage('go', { tag: '' })).toThrow(/Invalid image tag/);
  });
});

describe('resolveRunEnv', () => {
  it('points every writableDirEnv variable below the given root and keeps run.env', () => {
    const env = resolveRunEnv(getTemplate('go'), '/tmp/exec-1/');
    expect(env).toMatchObject({
      GOCACHE: '/tmp/exec-1/gocache',
      GOPATH: '/tmp/exec-1/gopath',
      CGO_ENABLED: '0',
    });
    expect(resolveRunEnv(getTemplate('python'), '/x')).toEqual({});
  });

  it('rejects a relative root', () => {
    expect(() => resolveRunEnv(getTemplate('go'), 'tmp')).toThrow(/absolute/);
  });
});

/**
 * Runs every template's real steps on this machine: each toolchain must be installed (CI and
 * `npm start` install them all through apps/executor/scripts/install-runtimes.sh). A missing one
 * is a failure, never a silently smaller suite. Proves the argv arrays are runnable as written and
 * that each template's smoke program prints exactly what the executors check at boot.
 */
describe('run steps on this machine (every template)', () => {
  const HELLO: Record<TemplateName, string> = {
    python: 'print("hello from", "python")',
    'python-data': 'print("hello from", "python-data")',
    node: 'console.log("hello from", "node")',
    typescript: 'const who: string = "typescript";\nconsole.log("hello from", who);',
    bash: 'echo "hello from" bash',
    c: '#include <stdio.h>\n#include <math.h>\nint main(void){printf("hello from c %d\\n",(int)sqrt(16.0));return 0;}',
    cpp: '#include <iostream>\nint main(){std::cout<<"hello from cpp"<<std::endl;}',
    java: 'public class Main { public static void main(String[] a) { System.out.println("hello from java"); } }',
    rust: 'fn main() { println!("hello from rust"); }',
    go: 'package main\nimport "fmt"\nfunc main() { fmt.Println("hello from go") }',
    ruby: 'puts "hello from ruby"',
    r: 'cat("hello from r\\n")',
    'code-interpreter-v1': 'print("hello from", "code-interpreter-v1")',
    base: 'echo "hello from" base',
  };
  const binDir = path.resolve(__dirname, '../../../../node_modules/.bin');
  // System directories first: the executors run /usr/bin toolchains, never a user's shims.
  const PATH = ['/usr/local/bin', '/usr/bin', '/bin', binDir].join(path.delimiter);
  const INSTALL_HINT = 'install it with: apps/executor/scripts/install-runtimes.sh (as root)';

  /** The toolchain programs a template needs (its run and compile commands). */
  const tools = (t: Template): string[] =>
    [t.run.run[0], ...(t.run.compile ? [t.run.compile[0]] : [])].filter((c) => !c.startsWith('./'));
  const missingTools = (t: Template): string[] =>
    tools(t).filter(
      (cmd) => spawnSync('sh', ['-c', 'command -v "$1"', 'sh', cmd], { env: { PATH } }).status !== 0,
    );

  /** Runs `code` with the template's one-shot steps; returns stdout. */
  const runSteps = (t: Template, code: string): string => {
    const dir = mkdtempSync(path.join(tmpdir(), `tpl-${t.name}-`));
    const writable = mkdtempSync(path.join(tmpdir(), `tpl-${t.name}-w-`));
    try {
      const env: NodeJS.ProcessEnv = { PATH, HOME: writable, LANG: 'C.UTF-8', ...resolveRunEnv(t, writable) };
      for (const key of t.run.writableDirEnv ?? []) mkdirSync(env[key] as string, { recursive: true });
      writeFileSync(path.join(dir, t.run.sourceFile), code);
      const opts = { cwd: dir, env, encoding: 'utf8' as const, timeout: 120_000 };
      if (t.run.compile) execFileSync(t.run.compile[0], t.run.compile.slice(1), opts);
      return execFileSync(t.run.run[0], t.run.run.slice(1), opts);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(writable, { recursive: true, force: true });
    }
  };

  it.each(TEMPLATE_NAMES.map((n) => [n]))('%s: its toolchain is installed', (name) => {
    const t = getTemplate(name);
    expect({ template: name, missing: missingTools(t), hint: INSTALL_HINT }).toEqual({
      template: name,
      missing: [],
      hint: INSTALL_HINT,
    });
    if (name === 'python-data' || name === 'code-interpreter-v1') {
      const r = spawnSync('/usr/bin/python3', ['-c', 'import numpy, pandas, matplotlib'], {
        encoding: 'utf8',
      });
      expect({ status: r.status, stderr: r.stderr, hint: INSTALL_HINT }).toEqual({
        status: 0,
        stderr: '',
        hint: INSTALL_HINT,
      });
    }
  });

  it.each(TEMPLATE_NAMES.map((n) => [n]))('%s versionCommand exits 0 and prints a version', (name) => {
    const [cmd, ...args] = getTemplate(name).versionCommand;
    const result = spawnSync(cmd, args, { env: { PATH }, encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(0);
    expect(`${result.stdout}${result.stderr}`).toMatch(/\d+\.\d+/);
  });

  it.each(TEMPLATE_NAMES.map((n) => [n]))(
    '%s prints hello, and its smoke program prints exactly what the executor checks',
    (name) => {
      const t = getTemplate(name);
      expect(runSteps(t, HELLO[name])).toContain(`hello from ${name}`);
      expect(runSteps(t, t.smoke.code)).toBe(t.smoke.stdout);
    },
    120_000,
  );
});
