import { performance } from 'node:perf_hooks';
import type { Template } from '@executor/templates';
import { createRuntime, type RuntimeDeps } from '../runner/runtime';
import type { SlotAllocator } from '../sandbox/slots';

export type SmokeResult = { ok: true; ms: number } | { ok: false; ms: number; reason: string };

/** Longest part of the program's output quoted in a failure reason. */
const REASON_OUTPUT_CHARS = 600;

/**
 * Runs the template's smoke program as a session would: a fresh slot, its runtime (the kernel for
 * kernel templates) in the real sandbox, one execution. Ok only when it exits 0 and prints exactly
 * `template.smoke.stdout`.
 */
export async function runSmoke(
  template: Template,
  deps: RuntimeDeps,
  slots: SlotAllocator,
  timeoutMs: number,
): Promise<SmokeResult> {
  const t0 = performance.now();
  const ms = (): number => Math.round(performance.now() - t0);
  const fail = (why: string): SmokeResult => ({
    ok: false,
    ms: ms(),
    reason: `template ${template.name}: smoke test failed: ${why}`,
  });
  let slot;
  try {
    slot = slots.allocate();
  } catch (err) {
    return fail(`no slot: ${(err as Error).message}`);
  }
  const runtime = createRuntime(slot, deps, false);
  try {
    const out = await runtime.execute(template.smoke.code, timeoutMs, {});
    if (out.timedOut) return fail(`timed out after ${timeoutMs} ms`);
    if (out.exitCode !== 0 || out.stdout !== template.smoke.stdout) {
      const output = (out.stderr.trim() || out.stdout.trim()).slice(-REASON_OUTPUT_CHARS);
      return fail(
        out.exitCode !== 0
          ? `exit ${out.exitCode}: ${output}`
          : `printed ${JSON.stringify(out.stdout.slice(0, 200))}, expected ${JSON.stringify(template.smoke.stdout)}`,
      );
    }
    return { ok: true, ms: ms() };
  } catch (err) {
    return fail((err as Error).message);
  } finally {
    await runtime.close().catch(() => undefined);
    slots.release(slot);
  }
}
