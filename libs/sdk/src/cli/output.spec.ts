import { humanSize, spinner, table } from './output';

describe('output', () => {
  it('aligns table columns', () => {
    expect(
      table(
        ['NAME', 'PODS'],
        [
          ['python', 2],
          ['x', 10],
        ],
      ),
    ).toBe('NAME    PODS\npython  2\nx       10\n');
  });

  it('formats sizes', () => {
    expect(humanSize(10)).toBe('10 B');
    expect(humanSize(2048)).toBe('2.0 KiB');
    expect(humanSize(50 * 1024 * 1024)).toBe('50 MiB');
  });

  it('draws a spinner only on a TTY and erases it', async () => {
    const written: string[] = [];
    const pipe = spinner({ write: (c) => written.push(String(c)), isTTY: false }, 'running', 0);
    await new Promise((r) => setTimeout(r, 50));
    pipe.stop();
    expect(written).toEqual([]);
    const tty = spinner({ write: (c) => written.push(String(c)), isTTY: true }, 'running', 0);
    await new Promise((r) => setTimeout(r, 50));
    tty.stop();
    expect(written[0]?.startsWith('\r\u001b[2K')).toBe(true);
    expect(written[0]).toMatch(/ running \d+\.\ds$/);
    expect(written[written.length - 1]).toBe('\r\x1b[2K');
  });
});
