/**
 * An agent-style loop: the "model" proposes a program, the loop writes it into the session,
 * runs it, reads what it printed and the file it produced, and feeds errors back until the task
 * is done. The model is a scripted stand-in (its first attempt has a bug) so the example runs
 * without an LLM; swap `propose()` for a call to your model.
 *
 *   EXECUTOR_API_KEY=... npx nx build sdk && SWC_NODE_PROJECT=examples/tsconfig.json node -r @swc-node/register examples/agent-loop.ts
 */
import { ExecutorClient, ExecutorError } from '@executor/sdk';

interface Observation {
  attempt: number;
  exitCode: number;
  stdout: string;
  stderr: string;
}

const TASK = 'Write solver.py: compute the first 15 primes, print them, and save them to result.json';

/** Stand-in for a model call: returns the program to try next given what happened so far. */
function propose(history: Observation[]): string {
  if (history.length === 0) {
    // First attempt: a typo the feedback loop has to repair.
    return [
      'import json',
      'primes = [n for n in range(2, 60) if all(n % d for d in range(2, n))][:15]',
      'print(primes)',
      'json.dump(primes, open("result.json", "w")',
      '',
    ].join('\n');
  }
  return [
    'import json',
    'def primes(count):',
    '    found = []',
    '    n = 2',
    '    while len(found) < count:',
    '        if all(n % p for p in found if p * p <= n):',
    '            found.append(n)',
    '        n += 1',
    '    return found',
    'result = primes(15)',
    'print(result)',
    'json.dump(result, open("result.json", "w"))',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const apiKey = process.env['EXECUTOR_API_KEY'];
  if (!apiKey) throw new Error('set EXECUTOR_API_KEY (npm start prints it)');
  const client = new ExecutorClient({
    baseUrl: process.env['EXECUTOR_URL'] ?? 'http://127.0.0.1:8080',
    apiKey,
  });

  // `await using`: the session is closed when main() leaves this scope, even on errors.
  await using session = await client.createSession({
    template: 'python',
    ttlSeconds: 300,
    metadata: { example: 'agent-loop' },
  });
  console.log(`task: ${TASK}\nsession ${session.id} on ${session.info.pod}`);

  const history: Observation[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    const program = propose(history);
    await session.files.write('solver.py', program);
    const run = await session.execute('exec(open("solver.py").read())', { timeoutMs: 10_000 });
    history.push({ attempt, exitCode: run.exitCode, stdout: run.stdout, stderr: run.stderr });
    console.log(`attempt ${attempt}: exit ${run.exitCode}${run.timedOut ? ' (timed out)' : ''}`);
    if (run.exitCode !== 0 || run.timedOut) {
      console.log(`  feedback to the model: ${run.stderr.trim().split('\n').pop()}`);
      continue;
    }
    const files = await session.files.list();
    if (!files.some((f) => f.path === 'result.json')) {
      console.log('  result.json missing: asking again');
      continue;
    }
    const result = JSON.parse(await session.files.readText('result.json')) as number[];
    console.log(`  stdout: ${run.stdout.trim()}`);
    console.log(`  result.json: ${result.length} primes, last ${result[result.length - 1]}`);
    if (result.length !== 15 || result[14] !== 47) throw new Error('wrong answer');
    console.log(
      `done after ${attempt} attempt(s); ${(await session.executions()).length} executions in the session history`,
    );
    return;
  }
  throw new Error('the agent gave up after 3 attempts');
}

main().catch((err: unknown) => {
  console.error(
    err instanceof ExecutorError ? `${err.name} (${err.code}, HTTP ${err.status}): ${err.message}` : err,
  );
  process.exitCode = 1;
});
