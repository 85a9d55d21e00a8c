// `e2b`'s CommonJS bundle requires chalk 5, which is ESM only (Node ≥ 20.19 can require it, Jest's
// module system cannot): the e2e suites let @swc/jest turn it into CommonJS like the preset's other
// ESM-only packages. `e2b` is listed so that the pattern also reaches e2b/node_modules/chalk.
const ESM_ONLY = [
  '@kubernetes/client-node',
  'openid-client',
  'oauth4webapi',
  'jose',
  'p-limit',
  'yocto-queue',
  'content-disposition',
  'e2b',
  'chalk',
];

export default {
  displayName: 'e2e',
  preset: '../../jest.preset.js',
  rootDir: '.',
  testMatch: ['<rootDir>/src/**/*.e2e.ts'],
  testTimeout: 120_000,
  maxWorkers: 1,
  transformIgnorePatterns: [`node_modules/(?!(${ESM_ONLY.join('|')})/)`],
};
