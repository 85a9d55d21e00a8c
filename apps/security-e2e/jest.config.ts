export default {
  displayName: 'security-e2e',
  preset: '../../jest.preset.js',
  rootDir: '.',
  testMatch: ['<rootDir>/src/**/*.e2e.ts'],
  testTimeout: 180_000,
  maxWorkers: 1,
};
