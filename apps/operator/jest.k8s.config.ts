// `nx run operator:test-k8s`: the operator against a real kube-apiserver v1.20 (+ etcd, kube-controller-manager)
// started once for the run by tools/kube/start.sh (built into ~/.cache/executor-platform/kube when missing).
export default {
  displayName: 'operator-k8s',
  preset: '../../jest.preset.js',
  rootDir: '.',
  testMatch: ['<rootDir>/test/**/*.k8s.ts'],
  globalSetup: '<rootDir>/test/k8s-global-setup.ts',
  globalTeardown: '<rootDir>/test/k8s-global-teardown.ts',
  maxWorkers: 1,
  testTimeout: 120_000,
  coverageDirectory: '../../coverage/apps/operator-k8s',
};
