export default {
  displayName: 'persistence',
  preset: '../../jest.preset.js',
  rootDir: '.',
  coverageDirectory: '../../coverage/apps/persistence',
};
