// Fast static checks of k8s/: kustomize builds, manifest policies, Dockerfiles, monitoring rules.
// The checks against a real kube-apiserver (*.k8s.spec.ts) run with `nx run k8s:test-k8s`.
export default {
  displayName: 'k8s',
  preset: '../jest.preset.js',
  rootDir: '.',
  testPathIgnorePatterns: ['/node_modules/', '\\.k8s\\.spec\\.ts$'],
  coverageDirectory: '../coverage/k8s',
};
