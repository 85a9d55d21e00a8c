export default {
  displayName: 'cluster-e2e',
  preset: '../../jest.preset.js',
  rootDir: '.',
  testMatch: ['<rootDir>/src/**/*.cluster.ts'],
  // One cluster, one platform: files run one at a time, in their numbered order (deploy first).
  testSequencer: '<rootDir>/src/support/sequencer.js',
  globalSetup: '<rootDir>/src/support/global-setup.ts',
  testTimeout: 300_000,
  maxWorkers: 1,
};
