// Shared Jest preset: every project's jest.config.ts spreads this.
// - TypeScript and the ESM-only packages (@kubernetes/client-node and what it pulls in) are
//   transformed to CommonJS with @swc/jest (decorator metadata on, as NestJS needs).
// - Path aliases come from tsconfig.base.json, so specs import libs exactly as apps do.
const path = require('node:path');
const { compilerOptions } = require('./tsconfig.base.json');

const ESM_ONLY = [
  '@kubernetes/client-node',
  'openid-client',
  'oauth4webapi',
  'jose',
  'p-limit',
  'yocto-queue',
  'content-disposition',
];

const moduleNameMapper = {};
for (const [alias, targets] of Object.entries(compilerOptions.paths ?? {})) {
  moduleNameMapper[`^${alias.replace('*', '(.*)')}$`] = path.join(__dirname, targets[0].replace('*', '$1'));
}

const swcOptions = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

module.exports = {
  testEnvironment: 'node',
  testMatch: ['**/?(*.)+(spec|test).ts'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', swcOptions],
    '^.+\\.(mjs|js)$': [
      '@swc/jest',
      { ...swcOptions, jsc: { ...swcOptions.jsc, parser: { syntax: 'ecmascript' } } },
    ],
  },
  transformIgnorePatterns: [`node_modules/(?!(${ESM_ONLY.join('|')})/)`],
  moduleNameMapper,
  testTimeout: 30_000,
  reporters: ['default', path.join(__dirname, 'tools/ci/jest-results-reporter.js')],
};
