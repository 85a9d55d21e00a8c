export default {
  displayName: 'crd',
  preset: '../../jest.preset.js',
  rootDir: '.',
  coverageDirectory: '../../coverage/libs/crd',
  // *.k8s.spec.ts need a Kubernetes API server: they run in test-k8s (jest.k8s.config.js).
  testPathIgnorePatterns: ['/node_modules/', '\\.k8s\\.spec\\.ts$'],
};
