const { NxAppWebpackPlugin } = require('@nx/webpack/app-plugin');
const { join } = require('node:path');

module.exports = {
  output: { path: join(__dirname, '../../dist/apps/executor'), clean: true },
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
      // the typescript kernel loads the compiler at run time (not bundled, not imported by main.js)
      runtimeDependencies: ['typescript'],
      assets: [{ glob: '*.{py,js}', input: './src/kernels', output: 'kernels' }],
      sourceMap: true,
    }),
  ],
};
