import { InvalidArgumentError } from './errors';
import { encodeWorkspacePath, seg } from './paths';

describe('encodeWorkspacePath', () => {
  it('encodes each segment and drops empty and "." segments', () => {
    expect(encodeWorkspacePath('out/chart.png')).toBe('out/chart.png');
    expect(encodeWorkspacePath('./a b/#1?.txt')).toBe('a%20b/%231%3F.txt');
    expect(encodeWorkspacePath('dir//ü.txt')).toBe('dir/%C3%BC.txt');
  });

  it.each(['', '/etc/passwd', '../x', 'a/../../b', '.', 'C:\\x'])('refuses %j', (p) => {
    expect(() => encodeWorkspacePath(p)).toThrow(InvalidArgumentError);
  });

  it('encodes ids as one segment', () => {
    expect(seg('a/b', 'id')).toBe('a%2Fb');
    expect(() => seg('', 'session id')).toThrow('session id: must be a non-empty string');
  });
});
