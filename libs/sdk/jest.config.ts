// Unit and package tests (real HTTP against node:http servers started by the tests, the built
// package in child processes). The tests against the real platform are `test-platform`.
export default {
  displayName: 'sdk',
  preset: '../../jest.preset.js',
  rootDir: '.',
  coverageDirectory: '../../coverage/libs/sdk',
  // Sources import siblings as './x.js' (needed by the ESM build); Jest resolves the .ts.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/platform/'],
};
