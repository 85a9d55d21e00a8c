import { TEMPLATE_NAMES } from '@executor/templates';
import { PodDriver, startHarness, type Harness } from './harness';

/** Interpreted and quick-to-compile templates (templates-light.spec.ts). */
export const LIGHT_TEMPLATES = [
  'python',
  'python-data',
  'node',
  'typescript',
  'bash',
  'c',
  'cpp',
  'ruby',
  'r',
  'code-interpreter-v1',
  'base',
];
/** Compile-heavy templates (templates-compiled.spec.ts). */
export const COMPILED_TEMPLATES = ['rust', 'java', 'go'];

/** The two suites together run every template: a template added to the catalogue cannot be left out. */
export function describeCoverage(): void {
  it('the template suites cover every template of the catalogue', () => {
    expect([...LIGHT_TEMPLATES, ...COMPILED_TEMPLATES].sort()).toEqual([...TEMPLATE_NAMES].sort());
    for (const t of TEMPLATE_NAMES) expect(TEMPLATE_CASES[t]).toBeDefined();
  });
}
/** A hello-world and an error case per template (the error must give a non-zero exit and a message). */
export interface TemplateCase {
  hello: string;
  helloOut: string;
  error: string;
  errorMatch: RegExp;
}

export const TEMPLATE_CASES: Record<string, TemplateCase> = {
  python: {
    hello: 'print("hello python")',
    helloOut: 'hello python\n',
    error: 'raise ValueError("bad py")',
    errorMatch: /ValueError: bad py/,
  },
  'python-data': {
    hello:
      'import numpy as np, pandas as pd\nprint(int(np.arange(4).sum()), len(pd.DataFrame({"a": [1, 2]})))',
    helloOut: '6 2\n',
    error: 'import pandas as pd\npd.DataFrame({"a": [1]})["nope"]',
    errorMatch: /KeyError/,
  },
  node: {
    hello: 'console.log("hello node")',
    helloOut: 'hello node\n',
    error: 'throw new TypeError("bad js")',
    errorMatch: /TypeError: bad js/,
  },
  typescript: {
    hello: 'const greet = (n: string): string => `hello ${n}`;\nconsole.log(greet("ts"))',
    helloOut: 'hello ts\n',
    error: 'const n: number = (null as any).x',
    errorMatch: /TypeError/,
  },
  bash: {
    hello: 'echo "hello bash"',
    helloOut: 'hello bash\n',
    error: 'echo oops >&2; exit 3',
    errorMatch: /oops/,
  },
  c: {
    hello: '#include <stdio.h>\nint main(void) { printf("hello c\\n"); return 0; }',
    helloOut: 'hello c\n',
    error: 'int main(void) { return undefined_symbol; }',
    errorMatch: /undefined_symbol/,
  },
  cpp: {
    hello: '#include <iostream>\nint main() { std::cout << "hello cpp" << std::endl; }',
    helloOut: 'hello cpp\n',
    error: '#include <stdexcept>\nint main() { throw std::runtime_error("bad cpp"); }',
    errorMatch: /bad cpp/,
  },
  java: {
    hello: 'public class Main { public static void main(String[] a) { System.out.println("hello java"); } }',
    helloOut: 'hello java\n',
    error:
      'public class Main { public static void main(String[] a) { throw new IllegalStateException("bad java"); } }',
    errorMatch: /IllegalStateException: bad java/,
  },
  rust: {
    hello: 'fn main() { println!("hello rust"); }',
    helloOut: 'hello rust\n',
    error: 'fn main() { let x: i32 = "s"; }',
    errorMatch: /mismatched types/,
  },
  go: {
    hello: 'package main\nimport "fmt"\nfunc main() { fmt.Println("hello go") }',
    helloOut: 'hello go\n',
    error: 'package main\nfunc main() { panic("bad go") }',
    errorMatch: /panic: bad go/,
  },
  ruby: {
    hello: 'puts "hello ruby"',
    helloOut: 'hello ruby\n',
    error: 'raise ArgumentError, "bad ruby"',
    errorMatch: /bad ruby/,
  },
  r: { hello: 'cat("hello r\\n")', helloOut: 'hello r\n', error: 'stop("bad r")', errorMatch: /bad r/ },
  'code-interpreter-v1': {
    hello: 'import numpy as np, matplotlib\nprint("hello ci", int(np.arange(3).sum()))',
    helloOut: 'hello ci 3\n',
    error: 'raise ValueError("bad ci")',
    errorMatch: /ValueError: bad ci/,
  },
  base: {
    hello: 'echo "hello base"',
    helloOut: 'hello base\n',
    error: 'echo oops >&2; false',
    errorMatch: /oops/,
  },
};

/**
 * The per-template suite: for each template a fresh pod (no warm kernels), a hello world with
 * exact output, and an error case reported with a non-zero exit code and its message on stderr.
 */
export function describeTemplates(templates: string[], execTimeoutMs: number, testTimeoutMs: number): void {
  describe('templates (hello world and an error case, through the pod queue)', () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness();
    });
    afterAll(async () => {
      await h?.stop();
    });

    it.each(templates)(
      '%s',
      async (template) => {
        const c = TEMPLATE_CASES[template] as (typeof TEMPLATE_CASES)[string];
        const pod = await PodDriver.start(h, template, { WARM_KERNELS: '0' });
        try {
          const { id } = await pod.open();
          const ok = await pod.exec(id, c.hello, execTimeoutMs);
          expect({ exitCode: ok.exitCode, stdout: ok.stdout, stderr: ok.stderr }).toEqual({
            exitCode: 0,
            stdout: c.helloOut,
            stderr: '',
          });
          const bad = await pod.exec(id, c.error, execTimeoutMs);
          expect(bad.exitCode).not.toBe(0);
          expect(bad.timedOut).toBe(false);
          expect(bad.stderr).toMatch(c.errorMatch);
        } finally {
          await pod.stop();
        }
      },
      testTimeoutMs,
    );
  });
}
