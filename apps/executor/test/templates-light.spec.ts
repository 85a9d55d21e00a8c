import { PodDriver, startHarness, type Harness } from './harness';
import { TEMPLATE_CASES } from './template-cases';

// Interpreted and quick-to-compile templates; rust, java and go live in templates-compiled.spec.ts.
const TEMPLATES = ['python', 'python-data', 'node', 'typescript', 'bash', 'c', 'cpp', 'ruby', 'r'];

describe('templates (hello world and an error case, through the pod queue)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.stop();
  });

  it.each(TEMPLATES)(
    '%s',
    async (template) => {
      const c = TEMPLATE_CASES[template] as (typeof TEMPLATE_CASES)[string];
      const pod = await PodDriver.start(h, template, { WARM_KERNELS: '0' });
      try {
        const { id } = await pod.open();
        const ok = await pod.exec(id, c.hello, 30_000);
        expect({ exitCode: ok.exitCode, stdout: ok.stdout, stderr: ok.stderr }).toEqual({
          exitCode: 0,
          stdout: c.helloOut,
          stderr: '',
        });
        const bad = await pod.exec(id, c.error, 30_000);
        expect(bad.exitCode).not.toBe(0);
        expect(bad.timedOut).toBe(false);
        expect(bad.stderr).toMatch(c.errorMatch);
      } finally {
        await pod.stop();
      }
    },
    90_000,
  );
});
