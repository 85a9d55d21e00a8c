// Checks against a real kube-apiserver v1.20.2 (+ etcd) started once for the run (globalSetup), or
// the cluster named by K8S_TEST_KUBECONFIG. See k8s/README.md, "Tests".
export default {
  displayName: 'k8s-api',
  preset: '../jest.preset.js',
  rootDir: '.',
  testMatch: ['**/*.k8s.spec.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 120_000,
};
