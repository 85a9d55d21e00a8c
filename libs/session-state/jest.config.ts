export default {
  displayName: 'session-state',
  preset: '../../jest.preset.js',
  rootDir: '.',
  coverageDirectory: '../../coverage/libs/session-state',
};
