import { ApiError } from '../http/api-error';
import { workspacePath } from './workspace-path';

describe('workspacePath', () => {
  it.each([
    ['a.txt', 'a.txt'],
    ['dir/sub/b.bin', 'dir/sub/b.bin'],
    ['./x//y/./z', 'x/y/z'],
    ['/home/user/data/x.csv', 'data/x.csv'],
    ['win\\style\\path', 'win/style/path'],
  ])('keeps %s as %s', (input, out) => expect(workspacePath(input)).toBe(out));

  it.each([
    '',
    undefined,
    '../etc/passwd',
    'a/../../b',
    '/etc/passwd',
    '/tmp/x',
    '/home/user',
    '\\\\server\\x',
    'C:/x',
    'a\0b',
    '.',
    'a/..',
    'a\\..\\..\\b',
    `a/${'b/'.repeat(2100)}`,
  ])('rejects case %# with 400', (input) => {
    let err: unknown;
    try {
      workspacePath(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).message).toMatch(/^path: /);
  });
});
