/**
 * python-data: build a small dataset with pandas, draw a chart with matplotlib (Agg backend, no
 * display) into the session's workspace, and download the PNG to disk.
 *
 *   EXECUTOR_API_KEY=... npx nx build sdk && SWC_NODE_PROJECT=examples/tsconfig.json node -r @swc-node/register examples/data-chart.ts [out.png]
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ExecutorClient, ExecutorError } from '@executor/sdk';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const CHART = `
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

rng = np.random.default_rng(7)
days = pd.date_range("2026-01-01", periods=90, freq="D")
df = pd.DataFrame({"requests": (1000 + rng.normal(0, 60, 90).cumsum()).round()}, index=days)
df["7-day mean"] = df["requests"].rolling(7).mean()

fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
df.plot(ax=ax, title="Requests per day")
ax.set_ylabel("requests")
fig.tight_layout()
fig.savefig("out/chart.png")
print(df.describe().loc[["mean", "min", "max"]].round(1).to_string())
`;

async function main(): Promise<void> {
  const apiKey = process.env['EXECUTOR_API_KEY'];
  if (!apiKey) throw new Error('set EXECUTOR_API_KEY (npm start prints it)');
  const target = resolve(process.argv[2] ?? 'chart.png');
  const client = new ExecutorClient({
    baseUrl: process.env['EXECUTOR_URL'] ?? 'http://127.0.0.1:8080',
    apiKey,
  });

  await using session = await client.createSession({ template: 'python-data', ttlSeconds: 300 });
  console.log(`session ${session.id} on ${session.info.pod}`);

  // python-data ships matplotlib/pandas/numpy; install into the session if this image lacks one.
  const probe = await session.execute(
    'import importlib.util as u\nprint(",".join(m for m in ["matplotlib", "pandas", "numpy"] if not u.find_spec(m)))',
  );
  const missing = probe.stdout.trim().split(',').filter(Boolean);
  if (missing.length) {
    console.log(`installing ${missing.join(', ')} into the session…`);
    await session.packages.install(missing, { manager: 'pip' });
  }

  await session.execute('import os\nos.makedirs("out", exist_ok=True)');
  const run = await session.execute(CHART, { timeoutMs: 120_000 });
  if (run.exitCode !== 0) throw new Error(`the chart script failed (exit ${run.exitCode}):\n${run.stderr}`);
  console.log(run.stdout);

  const png = await session.files.read('out/chart.png');
  if (!PNG_SIGNATURE.every((b, i) => png[i] === b)) throw new Error('out/chart.png is not a PNG');
  await writeFile(target, png);
  console.log(`chart: ${png.length} bytes → ${target}`);
}

main().catch((err: unknown) => {
  console.error(
    err instanceof ExecutorError ? `${err.name} (${err.code}, HTTP ${err.status}): ${err.message}` : err,
  );
  process.exitCode = 1;
});
