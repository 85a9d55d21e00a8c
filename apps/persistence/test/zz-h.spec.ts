import { randomBytes } from 'node:crypto';
import { file, makeState, snapshot, startHarness } from './harness';
it('big', async () => {
  const h = await startHarness({ MAX_SNAPSHOT_BYTES: String(2 * 1024 * 1024) });
  const big = await snapshot(h, makeState('too-big', [file('big.bin', randomBytes(Number(process.env['SZ'])))])).catch((e: unknown) => e);
  console.log(String(big));
  const t = Date.now();
  await h.close();
  console.log('close ms', Date.now() - t, process.getActiveResourcesInfo());
});
