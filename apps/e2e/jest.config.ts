export default {
  displayName: 'e2e',
  preset: '../../jest.preset.js',
  rootDir: '.',
  testMatch: ['<rootDir>/src/**/*.e2e.ts'],
  testTimeout: 120_000,
  maxWorkers: 1,
};
