// Creates the skeleton of a new Nx project with the workspace's conventions:
//   node tools/scripts/scaffold.mjs lib <name> [scope]
//   node tools/scripts/scaffold.mjs app <name> [scope]
// Adds the path alias @executor/<name> for libs. Never overwrites existing files.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [kind, name, scope = 'shared'] = process.argv.slice(2);
if (!['lib', 'app'].includes(kind) || !name) {
  console.error('usage: scaffold.mjs lib|app <name> [scope]');
  process.exit(2);
}
const root = `${kind === 'lib' ? 'libs' : 'apps'}/${name}`;
const up = '../..';
const write = (file, content) => {
  const p = join(root, file);
  if (existsSync(p)) return;
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content, null, 2) + '\n');
};

const typeTag = name === 'testing' ? 'type:testing' : kind === 'lib' ? 'type:lib' : 'type:app';
const targets = {
  lint: { executor: '@nx/eslint:lint', options: { lintFilePatterns: [`${root}/**/*.ts`] } },
  typecheck: {
    executor: 'nx:run-commands',
    options: { command: `tsc -p ${root}/tsconfig.json --noEmit` },
  },
  test: {
    executor: '@nx/jest:jest',
    outputs: [`{workspaceRoot}/coverage/${root}`],
    options: { jestConfig: `${root}/jest.config.ts`, passWithNoTests: false },
  },
};
if (kind === 'lib') {
  targets.build = {
    executor: '@nx/js:tsc',
    outputs: ['{options.outputPath}'],
    options: {
      outputPath: `dist/${root}`,
      main: `${root}/src/index.ts`,
      tsConfig: `${root}/tsconfig.lib.json`,
      assets: [`${root}/*.md`],
    },
  };
} else {
  targets.build = {
    executor: '@nx/webpack:webpack',
    outputs: ['{options.outputPath}'],
    defaultConfiguration: 'production',
    options: {
      target: 'node',
      compiler: 'tsc',
      outputPath: `dist/${root}`,
      main: `${root}/src/main.ts`,
      tsConfig: `${root}/tsconfig.app.json`,
      webpackConfig: `${root}/webpack.config.js`,
      generatePackageJson: true,
    },
    configurations: { development: {}, production: {} },
  };
  targets.serve = {
    executor: '@nx/js:node',
    defaultConfiguration: 'development',
    options: { buildTarget: `${name}:build:development`, inspect: false },
  };
}
write('project.json', {
  name,
  $schema: `${up}/node_modules/nx/schemas/project-schema.json`,
  sourceRoot: `${root}/src`,
  projectType: kind === 'lib' ? 'library' : 'application',
  tags: [typeTag, `scope:${scope}`],
  targets,
});
write('tsconfig.json', {
  extends: `${up}/tsconfig.base.json`,
  compilerOptions: { types: ['node', 'jest'] },
  include: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
});
if (kind === 'lib') {
  write('tsconfig.lib.json', {
    extends: './tsconfig.json',
    compilerOptions: { outDir: `${up}/dist/out-tsc`, declaration: true, types: ['node'] },
    include: ['src/**/*.ts'],
    exclude: ['src/**/*.spec.ts', 'src/**/*.test.ts'],
  });
} else {
  write('tsconfig.app.json', {
    extends: './tsconfig.json',
    compilerOptions: { outDir: `${up}/dist/out-tsc`, types: ['node'] },
    include: ['src/**/*.ts'],
    exclude: ['src/**/*.spec.ts', 'src/**/*.test.ts'],
  });
  write(
    'webpack.config.js',
    `const { NxAppWebpackPlugin } = require('@nx/webpack/app-plugin');
const { join } = require('node:path');

module.exports = {
  output: { path: join(__dirname, '${up}/dist/${root}'), clean: true },
  devtool: 'source-map',
  plugins: [
    new NxAppWebpackPlugin({
      target: 'node',
      compiler: 'tsc',
      main: './src/main.ts',
      tsConfig: './tsconfig.app.json',
      optimization: false,
      outputHashing: 'none',
      generatePackageJson: true,
      sourceMap: true,
    }),
  ],
};
`,
  );
}
write(
  'jest.config.ts',
  `export default {
  displayName: '${name}',
  preset: '${up}/jest.preset.js',
  rootDir: '.',
  coverageDirectory: '${up}/coverage/${root}',
};
`,
);
write(
  'eslint.config.mjs',
  `import baseConfig from '${up}/eslint.config.mjs';\n\nexport default [...baseConfig];\n`,
);

if (kind === 'lib') {
  const tsBase = JSON.parse(readFileSync('tsconfig.base.json', 'utf8'));
  tsBase.compilerOptions.paths[`@executor/${name}`] = [`${root}/src/index.ts`];
  tsBase.compilerOptions.paths = Object.fromEntries(Object.entries(tsBase.compilerOptions.paths).sort());
  writeFileSync('tsconfig.base.json', JSON.stringify(tsBase, null, 2) + '\n');
}
console.log(`scaffolded ${root}`);
