export default {
  displayName: 'workspace-fs',
  preset: '../../jest.preset.js',
  rootDir: '.',
  coverageDirectory: '../../coverage/libs/workspace-fs',
};
