/**
 * A plain E2B program — nothing in it knows about this platform. Point E2B's SDKs at the platform
 * with three environment variables (docs/e2b.md):
 *
 *   export E2B_API_URL=http://127.0.0.1:8080 E2B_SANDBOX_URL=http://127.0.0.1:8080 E2B_API_KEY=<npm start's key>
 *   SWC_NODE_PROJECT=examples/tsconfig.json node -r @swc-node/register examples/e2b-sdk.ts
 */
import { Sandbox } from '@e2b/code-interpreter';

async function main(): Promise<void> {
  const sandbox = await Sandbox.create(); // template code-interpreter-v1
  try {
    console.log(`sandbox ${sandbox.sandboxId}`);

    await sandbox.runCode('import math\nradius = 2');
    const area = await sandbox.runCode('round(math.pi * radius ** 2, 3)');
    console.log(`area: ${area.text}`);

    let streamed = '';
    await sandbox.runCode("for i in range(3):\n    print(f'tick {i}', flush=True)", {
      onStdout: (m) => void (streamed += m.line), // called as each chunk is printed
    });
    console.log(`streamed: ${streamed.trim().split('\n').join(', ')}`);

    const chart = await sandbox.runCode(
      'import matplotlib.pyplot as plt\nplt.bar(["a", "b"], [3, 5])\nplt.show()',
    );
    const png = chart.results.find((r) => r.png)?.png;
    console.log(`chart: ${png ? `${Buffer.from(png, 'base64').length} bytes of PNG` : 'missing'}`);

    await sandbox.files.write('/home/user/notes.txt', 'written through envd\n');
    const cmd = await sandbox.commands.run('wc -c < notes.txt'); // commands run in /home/user
    console.log(`command: ${cmd.stdout.trim().split('\n').join(' ')} (exit ${cmd.exitCode})`);

    const failed = await sandbox.runCode('undefined_name');
    console.log(`error: ${failed.error?.name}`);
  } finally {
    await sandbox.kill();
  }
  console.log('done');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
