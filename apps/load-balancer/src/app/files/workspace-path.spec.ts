import { ApiError } from '../http/api-error';
import { workspacePath } from './workspace-path';

describe('workspacePath', () => {
  it.each([
    ['a.txt', 'a.txt'],
    ['dir/sub/b.bin', 'dir/sub/b.bin'],
    ['./x//y/./z', 'x/y/z'],
  ])('keeps %s as %s', (input, out) => expect(workspacePath(input)).toBe(out));

  it.each(['', '../etc/passwd', 'a/../../b', '/etc/passwd', '\\\\server\\x', 'C:/x', 'a\0b', '.', 'a/..'])(
    'rejects %j with 400',
    (input) => {
      expect(() => workspacePath(input)).toThrow(ApiError);
      try {
        workspacePath(input);
      } catch (err) {
        expect((err as ApiError).status).toBe(400);
        expect((err as ApiError).message).toMatch(/^path: /);
      }
    },
  );
});
