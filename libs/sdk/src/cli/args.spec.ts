import { UsageError, allowOnly, int, keyValues, parseArgs } from './args';

describe('parseArgs', () => {
  it('splits positionals and flags in every spelling', () => {
    const a = parseArgs([
      'run',
      'x.py',
      '--template',
      'python',
      '--timeout=500',
      '-t',
      'node',
      '--json',
      '--env',
      'A=1',
      '--env=B=2',
      '--',
      '--not-a-flag',
    ]);
    expect(a.positionals).toEqual(['run', 'x.py', '--not-a-flag']);
    expect(a.flags).toEqual({ template: 'node', timeout: '500', json: true, env: ['A=1', 'B=2'] });
  });

  it('keeps "-" (stdin) as a positional', () => {
    expect(parseArgs(['run', '-', '-t', 'python']).positionals).toEqual(['run', '-']);
  });

  it.each([
    [['--nope'], 'unknown option --nope'],
    [['-x'], 'unknown option -x'],
    [['--template'], 'option --template needs a value'],
    [['--template', '--json'], 'option --template needs a value'],
    [['--json=1'], 'option --json takes no value'],
  ])('refuses %j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(new UsageError(message));
  });

  it('validates integers, KEY=VALUE lists and per-command flags', () => {
    expect(int(parseArgs(['--ttl', '60']), 'ttl')).toBe(60);
    expect(() => int(parseArgs(['--ttl', '6s']), 'ttl')).toThrow(
      'option --ttl must be an integer ≥ 1, got "6s"',
    );
    expect(keyValues(parseArgs(['--env', 'A=x=y']), 'env')).toEqual({ A: 'x=y' });
    expect(() => keyValues(parseArgs(['--env', '=x']), 'env')).toThrow('KEY=VALUE');
    expect(() => allowOnly(parseArgs(['--ttl', '1']), 'pools', [])).toThrow(
      'option --ttl does not apply to "pools"',
    );
    expect(() => allowOnly(parseArgs(['--json', '--url', 'http://x']), 'pools', [])).not.toThrow();
  });
});
