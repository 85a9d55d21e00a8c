import type { SandboxMode } from './local-defaults';

export interface BannerPool {
  name: string;
  template: string;
  pods: number;
  healthy: boolean;
  reason?: string;
}

export interface BannerInfo {
  urls: string[];
  tenantKey: string;
  adminKey: string;
  sandbox: SandboxMode;
  sandboxWarning?: string;
  pools: BannerPool[];
  logsDir: string;
}

/** What `npm start` prints once the platform runs. */
export function formatBanner(b: BannerInfo): string {
  const url = b.urls[0] ?? '';
  const pools = b.pools.map((p) =>
    p.healthy
      ? `    ${p.name} (${p.template} ×${p.pods}): healthy`
      : `    ${p.name} (${p.template} ×${p.pods}): NOT HEALTHY — ${p.reason ?? 'no reason given'}`,
  );
  const lines = [
    '',
    'The platform is running.',
    `  API:        ${b.urls.join(', ')}`,
    `  Tenant key: ${b.tenantKey}`,
    `  Admin key:  ${b.adminKey}   (pools POST/DELETE, ${url}/admin/queues: user anything, password the admin key)`,
    `  Sandbox:    ${b.sandbox}${b.sandbox === 'bwrap' ? ' (every session in bubblewrap: own uid, no network, own /tmp)' : ''}`,
    ...(b.sandboxWarning ? [`  WARNING:    ${b.sandboxWarning}`] : []),
    `  Logs:       ${b.logsDir}`,
    '  Pools:',
    ...pools,
    '',
    'Try it:',
    `  S=$(curl -s -H "Authorization: Bearer ${b.tenantKey}" -H 'content-type: application/json' \\`,
    `      -d '{"template":"python"}' ${url}/v1/sessions | sed -E 's/.*"id":"([^"]+)".*/\\1/')`,
    `  curl -s -H "Authorization: Bearer ${b.tenantKey}" -H 'content-type: application/json' \\`,
    `      -d '{"code":"print(6*7)"}' ${url}/v1/sessions/$S/executions`,
    '',
    "E2B's SDKs (docs/e2b.md), unchanged:",
    `  export E2B_API_URL=${url} E2B_SANDBOX_URL=${url} E2B_API_KEY=${b.tenantKey}`,
    '',
    'Ctrl-C stops everything (executors snapshot their sessions first).',
  ];
  return lines.join('\n');
}
