import baseConfig from '../../eslint.config.mjs';

export default [
  ...baseConfig,
  {
    // The k8s suite's Jest config, like jest.config.ts, is not part of a tsconfig.
    files: ['**/jest.k8s.config.ts'],
    languageOptions: { parserOptions: { projectService: false } },
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
];
