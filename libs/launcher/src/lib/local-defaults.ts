export type SandboxMode = 'bwrap' | 'none';

/** Printed in the banner and logged at WARN when sessions run without the sandbox. */
export const SANDBOX_NONE_WARNING =
  'SANDBOX=none: session code runs as plain processes of this machine — it can read your files, ' +
  'reach Redis and the network. Use it only where something else is the boundary (gVisor/Kata).';

/**
 * The sandbox of `npm start`: bubblewrap unless SANDBOX=none is set explicitly (then with a
 * warning). Anything else is an error.
 */
export function resolveSandbox(env: NodeJS.ProcessEnv): { mode: SandboxMode; warning?: string } {
  const v = env['SANDBOX'];
  if (v === undefined || v === '' || v === 'bwrap') return { mode: 'bwrap' };
  if (v === 'none') return { mode: 'none', warning: SANDBOX_NONE_WARNING };
  throw new Error(`SANDBOX must be bwrap (default) or none, not "${v}"`);
}
