export default {
  displayName: 'circuit-breaker',
  preset: '../../jest.preset.js',
  rootDir: '.',
  coverageDirectory: '../../coverage/libs/circuit-breaker',
};
