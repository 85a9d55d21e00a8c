export default {
  displayName: 'load-balancer',
  preset: '../../jest.preset.js',
  rootDir: '.',
  coverageDirectory: '../../coverage/apps/load-balancer',
};
