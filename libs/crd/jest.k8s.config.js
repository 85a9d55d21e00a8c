// Suites that need a real Kubernetes API server (nx run crd:test-k8s), started by tools/kube/start.sh.
module.exports = {
  displayName: 'crd-k8s',
  preset: '../../jest.preset.js',
  rootDir: '.',
  testMatch: ['<rootDir>/test/**/*.k8s.spec.ts'],
  testTimeout: 60_000,
};
