// A user story per template, through the public API of the platform started as `npm start`
// starts it: open a session, run a program, hit an error, round-trip a file, close it.
import { startTestPlatform } from './support/platform';
import type { Api } from './support/api';

interface Story {
  template: string;
  hello: string;
  expect: RegExp;
  failing: string;
  /** Reads input.txt from the workspace and prints it upper-cased. */
  readFile: string;
}

const stories: Story[] = [
  {
    template: 'python',
    hello: 'print("hello from python")',
    expect: /hello from python/,
    failing: '1/0',
    readFile: 'print(open("input.txt").read().upper())',
  },
  {
    template: 'python-data',
    hello: 'import pandas as pd\nprint(int(pd.DataFrame({"a": [1, 2, 39]})["a"].sum()))',
    expect: /^42\s*$/,
    failing: 'import numpy as np\nnp.linalg.inv(np.zeros((2, 2)))',
    readFile: 'print(open("input.txt").read().upper())',
  },
  {
    template: 'node',
    hello: 'console.log("hello from node")',
    expect: /hello from node/,
    failing: 'throw new Error("boom")',
    readFile: 'console.log(require("fs").readFileSync("input.txt", "utf8").toUpperCase())',
  },
  {
    template: 'typescript',
    hello: 'const n: number = 41;\nconsole.log(`answer ${n + 1}`)',
    expect: /answer 42/,
    failing: 'throw new Error("ts boom")',
    readFile:
      'import { readFileSync } from "fs";\nconsole.log(readFileSync("input.txt", "utf8").toUpperCase())',
  },
  {
    template: 'bash',
    hello: 'echo "hello from bash"',
    expect: /hello from bash/,
    failing: 'echo oops >&2; exit 3',
    readFile: 'tr a-z A-Z < input.txt',
  },
  {
    template: 'c',
    hello: '#include <stdio.h>\nint main(void) { printf("hello from c\\n"); return 0; }',
    expect: /hello from c/,
    failing: 'int main(void) { return undefined_symbol; }',
    readFile:
      '#include <stdio.h>\n#include <ctype.h>\nint main(void) { FILE *f = fopen("input.txt", "r"); int c; while ((c = fgetc(f)) != EOF) putchar(toupper(c)); return 0; }',
  },
  {
    template: 'cpp',
    hello: '#include <iostream>\nint main() { std::cout << "hello from cpp" << std::endl; }',
    expect: /hello from cpp/,
    failing: '#include <stdexcept>\nint main() { throw std::runtime_error("cpp boom"); }',
    readFile:
      '#include <fstream>\n#include <iostream>\n#include <cctype>\nint main() { std::ifstream f("input.txt"); char c; while (f.get(c)) std::cout << (char)std::toupper(c); }',
  },
  {
    template: 'java',
    hello:
      'public class Main { public static void main(String[] a) { System.out.println("hello from java"); } }',
    expect: /hello from java/,
    failing:
      'public class Main { public static void main(String[] a) { throw new RuntimeException("java boom"); } }',
    readFile:
      'import java.nio.file.*;\npublic class Main { public static void main(String[] a) throws Exception { System.out.print(Files.readString(Path.of("input.txt")).toUpperCase()); } }',
  },
  {
    template: 'rust',
    hello: 'fn main() { println!("hello from rust"); }',
    expect: /hello from rust/,
    failing: 'fn main() { panic!("rust boom"); }',
    readFile: 'fn main() { print!("{}", std::fs::read_to_string("input.txt").unwrap().to_uppercase()); }',
  },
  {
    template: 'go',
    hello: 'package main\nimport "fmt"\nfunc main() { fmt.Println("hello from go") }',
    expect: /hello from go/,
    failing: 'package main\nfunc main() { panic("go boom") }',
    readFile:
      'package main\nimport ("fmt"; "os"; "strings")\nfunc main() { b, _ := os.ReadFile("input.txt"); fmt.Print(strings.ToUpper(string(b))) }',
  },
  {
    template: 'ruby',
    hello: 'puts "hello from ruby"',
    expect: /hello from ruby/,
    failing: 'raise "ruby boom"',
    readFile: 'print File.read("input.txt").upcase',
  },
  {
    template: 'r',
    hello: 'cat("hello from r\\n")',
    expect: /hello from r/,
    failing: 'stop("r boom")',
    readFile: 'cat(toupper(readLines("input.txt")), sep = "\\n")',
  },
];

describe('a user story per template', () => {
  let env: Awaited<ReturnType<typeof startTestPlatform>>;
  let api: Api;

  beforeAll(async () => {
    env = await startTestPlatform(
      stories.map((s) => ({ name: `${s.template}-pool`, template: s.template, replicas: 1 })),
      { env: { executor: { WARM_KERNELS: '1' } }, readyTimeoutMs: 120_000 },
    );
    api = env.api;
  }, 240_000);
  afterAll(async () => {
    await env?.stop();
  });

  it.each(stories)('$template: run, fail, files, close', async (s) => {
    const session = await api.createSession({ template: s.template });
    expect(session).toMatchObject({
      template: s.template,
      pool: `${s.template}-pool`,
      status: 'active',
      persist: true,
    });

    const ok = await api.execute(session.id, s.hello, { timeoutMs: 120_000 });
    expect(ok).toMatchObject({ exitCode: 0, timedOut: false, truncated: false });
    expect(ok.stdout).toMatch(s.expect);

    const bad = await api.execute(session.id, s.failing, { timeoutMs: 120_000 });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr.length).toBeGreaterThan(0);

    const put = await api.request('PUT', `/v1/sessions/${session.id}/files/input.txt`, undefined, {
      raw: Buffer.from('shout\n'),
    });
    expect(put.status).toBe(204);
    const read = await api.execute(session.id, s.readFile, { timeoutMs: 120_000 });
    expect(read.stdout).toContain('SHOUT');
    const list = await api.request<{ items: Array<{ path: string; size: number }> }>(
      'GET',
      `/v1/sessions/${session.id}/files`,
    );
    expect(list.body.items).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: 'input.txt', size: 6 })]),
    );

    const history = await api.request<{ items: unknown[] }>('GET', `/v1/sessions/${session.id}/executions`);
    expect(history.body.items).toHaveLength(3);

    expect((await api.request('DELETE', `/v1/sessions/${session.id}`)).status).toBe(204);
    expect((await api.request('GET', `/v1/sessions/${session.id}`)).status).toBe(404);
  });
});
