import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/** uid/gid of session code inside the sandbox (D1), user `user`. */
export const SANDBOX_UID = 1000;
export const SANDBOX_GID = 1000;
export const SANDBOX_USER = 'user';
export const SANDBOX_HOSTNAME = 'sandbox';

/**
 * What the runtimes of the 12 templates read in /etc (found with strace of each template's programs and
 * the symlinks of /usr that point into /etc), bound read-only when present on the host. Never the host's
 * whole /etc: no shadow/gshadow, ssh, sudoers, machine-id, ssl/private, kubernetes or cloud config.
 * `*` matches within one name.
 */
export const ETC_ALLOWLIST: readonly string[] = [
  'alternatives', // /usr/bin/java, javac, cc (rustc's linker), c++ … are symlinks through it
  'java-*', // /usr/lib/jvm/*/lib/{jvm.cfg,security/*} link here
  'R', // /usr/lib/R/etc (Renviron, Makeconf, ldpaths)
  'python3', // debian_config
  'python3.*', // sitecustomize.py (linked from /usr/lib/python3.*)
  'matplotlibrc', // Debian's python3-matplotlib defaults
  'fonts', // fontconfig (matplotlib, R graphics)
  'ssl/certs', // CA bundle (python ssl, node, ruby openssl, java cacerts, go)
  'ssl/openssl.cnf', // OpenSSL (node, python)
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'localtime',
  'timezone', // java
  'mime.types', // python mimetypes
  'magic',
  'magic.mime',
  'services', // getservbyname (python, go)
  'protocols',
  'networks',
  'host.conf',
  'gai.conf',
  'locale.alias',
  'profile',
  'bash.bashrc',
  'inputrc',
  'terminfo',
  'papersize', // R
  'perl',
  'os-release', // R, python platform
  'debian_version',
  'pip.conf', // the image's package manager settings (index mirror, CA bundle)
  'npmrc',
];

/** Files of /etc that are generated for the sandbox instead of taken from the host. */
export const ETC_GENERATED = [
  'passwd',
  'group',
  'hosts',
  'hostname',
  'nsswitch.conf',
  'resolv.conf',
] as const;

/** One bind or symlink of the sandbox's /etc. */
export type EtcEntry =
  { kind: 'bind'; src: string; dest: string } | { kind: 'symlink'; target: string; dest: string };

function matches(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
  return re.test(name);
}

/** The allowlisted entries that exist under `etc` (host path), as binds or symlinks at /etc/... */
export function etcEntries(etc = '/etc', allowlist: readonly string[] = ETC_ALLOWLIST): EtcEntry[] {
  const out: EtcEntry[] = [];
  const seen = new Set<string>();
  for (const pattern of allowlist) {
    const parts = pattern.split('/');
    const parent = parts.slice(0, -1).join('/');
    const last = parts[parts.length - 1] as string;
    const dir = join(etc, parent);
    let names: string[];
    try {
      names = last.includes('*') ? readdirSync(dir).filter((n) => matches(last, n)) : [last];
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      const rel = parent ? `${parent}/${name}` : name;
      if (seen.has(rel)) continue;
      const src = join(etc, rel);
      let st;
      try {
        st = lstatSync(src);
      } catch {
        continue;
      }
      seen.add(rel);
      const dest = `/etc/${rel}`;
      if (st.isSymbolicLink()) out.push({ kind: 'symlink', target: readlinkSync(src), dest });
      else if (st.isFile() || st.isDirectory()) out.push({ kind: 'bind', src, dest });
    }
  }
  return out;
}

/** Nameserver lines of the host's resolv.conf (for sessions with network). */
function hostResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .filter((l) => /^\s*(nameserver|search|options)\s/.test(l))
      .join('\n');
  } catch {
    return '';
  }
}

/**
 * Writes the generated /etc files into `dir` (host): `<dir>/passwd` … and two resolv.conf variants
 * (`resolv.conf` without network, `resolv.conf.net` with the host's nameservers).
 */
export function writeGeneratedEtc(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const files: Record<string, string> = {
    passwd: [
      'root:x:0:0:root:/root:/usr/sbin/nologin',
      `${SANDBOX_USER}:x:${SANDBOX_UID}:${SANDBOX_GID}:${SANDBOX_USER}:/home/${SANDBOX_USER}:/bin/bash`,
      'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
    ].join('\n'),
    group: ['root:x:0:', `${SANDBOX_USER}:x:${SANDBOX_GID}:`, 'nogroup:x:65534:'].join('\n'),
    hosts: [
      `127.0.0.1\tlocalhost`,
      `127.0.1.1\t${SANDBOX_HOSTNAME}`,
      '::1\tlocalhost ip6-localhost ip6-loopback',
    ].join('\n'),
    hostname: SANDBOX_HOSTNAME,
    'nsswitch.conf': [
      'passwd: files',
      'group: files',
      'shadow: files',
      'hosts: files dns',
      'networks: files',
      'protocols: files',
      'services: files',
      'ethers: files',
      'rpc: files',
    ].join('\n'),
    'resolv.conf': '# no network in this sandbox',
    'resolv.conf.net': hostResolvConf() || 'nameserver 127.0.0.53',
  };
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(dir, name), `${text}\n`, { mode: 0o644 });
  }
}

/** True when every generated file exists in `dir`. */
export function generatedEtcReady(dir: string): boolean {
  return ETC_GENERATED.every((f) => existsSync(join(dir, f)));
}
