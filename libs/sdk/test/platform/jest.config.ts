// Tests against the real platform (Platform.start: redis-server, persistence, load balancer,
// executors from dist/apps). Build the apps first: npx nx run-many -t build -p executor persistence load-balancer
export default {
  displayName: 'sdk-platform',
  preset: '../../jest.preset.js',
  rootDir: '../..',
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/platform/**/*.spec.ts'],
  testTimeout: 180_000,
};
