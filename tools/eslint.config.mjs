// eslint-disable-next-line @nx/enforce-module-boundaries -- the workspace's root config, not a project
import baseConfig from '../eslint.config.mjs';

export default [...baseConfig];
