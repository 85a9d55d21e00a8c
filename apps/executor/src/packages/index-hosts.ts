/** A host and port the package installer may reach (through the index proxy). */
export interface IndexHost {
  host: string;
  port: number;
}

/** pip's default index (PyPI) and where it serves its files. */
export const PYPI_DEFAULT_HOSTS: readonly IndexHost[] = [
  { host: 'pypi.org', port: 443 },
  { host: 'files.pythonhosted.org', port: 443 },
];
/** npm's default registry. */
export const NPM_DEFAULT_REGISTRY = 'https://registry.npmjs.org/';

/** `host` and port of an http(s) URL (default ports filled in); throws on anything else. */
export function urlHost(url: string): IndexHost {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new Error(`${url}: only http(s) package indexes are supported`);
  return { host: u.hostname.toLowerCase(), port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
}

/** Parses `host[:port],…` (port 443 when absent). */
export function parseHostList(list: string): IndexHost[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(entry);
      if (!m) throw new Error(`"${entry}" is not host[:port]`);
      return { host: (m[1] as string).replace(/^\[|\]$/g, '').toLowerCase(), port: Number(m[2] ?? 443) };
    });
}

export interface IndexHostConfig {
  PACKAGES_NETWORK: boolean;
  PIP_INDEX_URL: string;
  PIP_NO_INDEX: boolean;
  NPM_REGISTRY: string;
  PACKAGES_EXTRA_HOSTS: string;
}

/**
 * The only hosts an install of `manager` may reach: the configured index (its host and port),
 * plus PACKAGES_EXTRA_HOSTS (mirrors that serve files from another host). None when installs have
 * no network (PACKAGES_NETWORK=false, or pip with PIP_NO_INDEX).
 */
export function indexHosts(cfg: IndexHostConfig, manager: 'pip' | 'npm'): IndexHost[] {
  if (!cfg.PACKAGES_NETWORK) return [];
  if (manager === 'pip' && cfg.PIP_NO_INDEX) return [];
  const base =
    manager === 'pip'
      ? cfg.PIP_INDEX_URL
        ? [urlHost(cfg.PIP_INDEX_URL)]
        : [...PYPI_DEFAULT_HOSTS]
      : [urlHost(cfg.NPM_REGISTRY || NPM_DEFAULT_REGISTRY)];
  return [...base, ...parseHostList(cfg.PACKAGES_EXTRA_HOSTS)];
}
