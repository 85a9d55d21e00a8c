import { isCanonicalPath, parseClientPath, sandboxPath, workspacePath, type ClientPath } from './client-path';
import { WorkspaceFsError } from './errors';

function refusal(fn: () => unknown): WorkspaceFsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WorkspaceFsError);
    expect((err as WorkspaceFsError).code).toBe('invalid_path');
    return err as WorkspaceFsError;
  }
  throw new Error('expected a refusal');
}

describe('parseClientPath', () => {
  it.each<[string, ClientPath]>([
    ['a.txt', { area: 'workspace', path: 'a.txt' }],
    ['dir/sub/b.bin', { area: 'workspace', path: 'dir/sub/b.bin' }],
    ['./x//y/./z/', { area: 'workspace', path: 'x/y/z' }],
    ['/home/user/data/x.csv', { area: 'workspace', path: 'data/x.csv' }],
    ['/home/user//a/./b', { area: 'workspace', path: 'a/b' }],
    ['/tmp/scratch/x', { area: 'tmp', path: 'scratch/x' }],
    ['back\\slash', { area: 'workspace', path: 'back\\slash' }],
    ['C:/x', { area: 'workspace', path: 'C:/x' }],
  ])('%j → %j', (raw, want) => expect(parseClientPath(raw)).toEqual(want));

  it.each([
    '',
    '..',
    '../etc/passwd',
    'a/../../b',
    'a/..',
    '/etc/passwd',
    '/home/userx/a',
    '/home/user/../../etc/passwd',
    '/tmp/../etc/passwd',
    '/proc/self/environ',
    'a\0b',
    '.',
    '/home/user',
    '/tmp/',
    `${'x'.repeat(256)}`,
    `a/${'y/'.repeat(2100)}`,
  ])('refuses %j (invalid_path)', (raw) => {
    refusal(() => parseClientPath(raw));
  });

  it('refuses non-strings', () => {
    refusal(() => parseClientPath(undefined));
    refusal(() => parseClientPath(42));
  });

  it('accepts the area root only with allowRoot', () => {
    expect(parseClientPath('/home/user', { allowRoot: true })).toEqual({ area: 'workspace', path: '' });
    expect(parseClientPath('/tmp', { allowRoot: true })).toEqual({ area: 'tmp', path: '' });
    expect(parseClientPath('.', { allowRoot: true })).toEqual({ area: 'workspace', path: '' });
  });

  it('limits absolute areas as asked', () => {
    refusal(() => parseClientPath('/tmp/x', { absolute: ['workspace'] }));
    refusal(() => parseClientPath('/home/user/x', { absolute: false }));
    expect(refusal(() => parseClientPath('/etc/x', { absolute: false })).message).toMatch(
      /relative to the workspace$/,
    );
    expect(parseClientPath('/tmp/x', { absolute: ['tmp'] })).toEqual({ area: 'tmp', path: 'x' });
  });

  it('with backslash: separator, treats \\ like / and refuses Windows absolute forms', () => {
    const o = { backslash: 'separator' } as const;
    expect(parseClientPath('a\\b\\c', o)).toEqual({ area: 'workspace', path: 'a/b/c' });
    for (const raw of ['C:/x', 'c:\\x', '\\\\server\\x', '\\x', 'a\\..\\..\\b'])
      refusal(() => parseClientPath(raw, o));
  });
});

describe('workspacePath / sandboxPath / isCanonicalPath', () => {
  it('workspacePath accepts relative and /home/user paths, never /tmp', () => {
    expect(workspacePath('a/b')).toBe('a/b');
    expect(workspacePath('/home/user/a/b')).toBe('a/b');
    refusal(() => workspacePath('/tmp/a'));
    refusal(() => workspacePath('/home/user/a', { absolute: false }));
  });

  it('sandboxPath maps back', () => {
    expect(sandboxPath({ area: 'workspace', path: 'a/b' })).toBe('/home/user/a/b');
    expect(sandboxPath({ area: 'workspace', path: '' })).toBe('/home/user');
    expect(sandboxPath({ area: 'tmp', path: 'x' })).toBe('/tmp/x');
  });

  it('isCanonicalPath', () => {
    for (const ok of ['a', 'a/b', 'a.b/c d', '.hidden/x']) expect(isCanonicalPath(ok)).toBe(true);
    for (const bad of ['', '/a', 'a/', 'a//b', './a', 'a/./b', 'a/..', '..', 'a\0b', 'x'.repeat(256)])
      expect(isCanonicalPath(bad)).toBe(false);
  });
});
