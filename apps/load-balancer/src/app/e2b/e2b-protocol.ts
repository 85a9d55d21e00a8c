/**
 * Facts of E2B's protocol this adapter implements (docs/e2b.md). The envd version we report is the
 * one whose client behaviour we serve: ≥ 0.4.0 no forced Basic auth, ≥ 0.5.2 closeStdin, ≥ 0.5.7
 * octet-stream (and gzip) uploads; below 0.6.2, so clients send no file metadata and ask for no
 * entries in watch events (neither is stored by the platform).
 */
export const ENVD_VERSION = '0.5.7';

/** `E2b-Sandbox-Port` of envd (filesystem, process, /files, /health). */
export const ENVD_PORT = 49983;
/** `E2b-Sandbox-Port` of the code interpreter (/execute, /contexts). */
export const INTERPRETER_PORT = 49999;

/** `clientID` of every sandbox (a legacy field the SDK requires). */
export const CLIENT_ID = 'executor';

/** The sandbox's user and home (PLAN D1): E2B paths `/home/user/...` are the session's workspace. */
export const SANDBOX_USER = 'user';
export const SANDBOX_HOME = '/home/user';

/** E2B's default sandbox timeout when `timeout` is omitted (seconds). */
export const DEFAULT_TIMEOUT_SECONDS = 300;

/** Headers of the sandbox plane. */
export const SandboxHeaders = {
  id: 'e2b-sandbox-id',
  port: 'e2b-sandbox-port',
  accessToken: 'x-access-token',
  trafficToken: 'e2b-traffic-access-token',
} as const;

/** Where the sandbox plane is routed internally (rewriteUrl): `<prefix>/<port><original path>`. */
export const SANDBOX_ROUTE_PREFIX = '/_e2b/sandbox';
