/** Version of this SDK (kept equal to libs/sdk/package.json by the build script's check). */
export const SDK_VERSION = '0.1.0';
