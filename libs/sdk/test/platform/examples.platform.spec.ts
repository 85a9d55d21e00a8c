// The runnable examples (examples/*.ts) as subprocesses against the real platform, the way
// examples/README.md tells users to run them.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startPlatform, type TestPlatform } from './support';

describe('examples against the real platform', () => {
  let p: TestPlatform;
  let dir: string;

  beforeAll(async () => {
    p = await startPlatform([
      { name: 'python', template: 'python', replicas: 1 },
      { name: 'python-data', template: 'python-data', replicas: 1 },
    ]);
    dir = mkdtempSync(join(tmpdir(), 'executor-examples-'));
  });
  afterAll(async () => {
    await p?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const example = (
    file: string,
    args: string[] = [],
  ): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        ['-r', '@swc-node/register', join(ROOT, 'examples', file), ...args],
        {
          cwd: ROOT,
          env: {
            PATH: process.env['PATH'],
            HOME: process.env['HOME'],
            SWC_NODE_PROJECT: join(ROOT, 'examples', 'tsconfig.json'),
            EXECUTOR_URL: p.url,
            EXECUTOR_API_KEY: p.key,
          },
          timeout: 300_000,
        },
        (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('agent-loop.ts: writes, runs, reads the output, repairs the failing first attempt', async () => {
    const r = await example('agent-loop.ts');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/attempt 1: exit [1-9]/);
    expect(r.stdout).toContain('result.json: 15 primes, last 47');
    expect(r.stdout).toMatch(/done after 2 attempt\(s\)/);
  });

  it('data-chart.ts: python-data draws a PNG chart that is downloaded to disk', async () => {
    const out = join(dir, 'chart.png');
    const r = await example('data-chart.ts', [out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const png = readFileSync(out);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.length).toBeGreaterThan(10_000);
  });
});
