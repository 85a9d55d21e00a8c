export default {
  displayName: 'executor-bench',
  preset: '../../jest.preset.js',
  rootDir: '..',
  testMatch: ['**/bench/**/*.bench.ts'],
  testTimeout: 300_000,
};
