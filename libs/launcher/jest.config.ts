export default {
  displayName: 'launcher',
  preset: '../../jest.preset.js',
  rootDir: '.',
  coverageDirectory: '../../coverage/libs/launcher',
};
