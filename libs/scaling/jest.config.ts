export default {
  displayName: 'scaling',
  preset: '../../jest.preset.js',
  rootDir: '.',
  coverageDirectory: '../../coverage/libs/scaling',
};
