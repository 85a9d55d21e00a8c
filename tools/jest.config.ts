export default {
  displayName: 'workspace-tools',
  preset: '../jest.preset.js',
  rootDir: '.',
  testMatch: ['<rootDir>/workspace/**/*.spec.ts'],
  testTimeout: 120_000,
};
