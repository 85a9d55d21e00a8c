import { SANDBOX_ROUTE_PREFIX, SandboxHeaders } from '../e2b-protocol';

const PORT_RE = /^\d{1,5}$/;

/**
 * fastify `rewriteUrl` (runs before routing): a request carrying `E2b-Sandbox-Id` is sandbox
 * traffic whatever its path (`/health`, `/files`, `/execute`, Connect paths...), so it is routed to
 * `<SANDBOX_ROUTE_PREFIX>/<E2b-Sandbox-Port><path>`; nothing else can reach that prefix.
 */
export function rewriteSandboxUrl(
  headers: Record<string, string | string[] | undefined>,
  url: string,
): string {
  const id = headers[SandboxHeaders.id];
  if (id !== undefined) {
    const raw = headers[SandboxHeaders.port];
    const port = typeof raw === 'string' && PORT_RE.test(raw) ? raw : '0';
    return `${SANDBOX_ROUTE_PREFIX}/${port}${url.startsWith('/') ? url : `/${url}`}`;
  }
  // The internal prefix is only reachable through the header.
  if (url.startsWith(`${SANDBOX_ROUTE_PREFIX}/`) || url === SANDBOX_ROUTE_PREFIX)
    return `/_e2b/no-sandbox-header`;
  return url;
}
