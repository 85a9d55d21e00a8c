import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '@executor/platform';

/** Shortest key accepted at boot (characters). Generated keys carry ≥ 32 random bytes. */
export const MIN_KEY_LENGTH = 32;

export type Role = 'tenant' | 'admin';

/** Who made a request: a tenant (acts on its own sessions) or an admin (pools, admin UI). */
export interface Principal {
  role: Role;
  /** Tenant name, or the admin key's name. */
  name: string;
}

interface Entry extends Principal {
  digest: Buffer;
}

const NAME_RE = /^[A-Za-z0-9._-]{1,128}$/;

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/**
 * The accepted keys, stored only as SHA-256 digests. A lookup hashes the presented key and
 * compares it with every entry in constant time (`timingSafeEqual` on equal-length digests, no
 * early exit), so neither a key nor its prefix can be found by timing the answers.
 */
export class KeyRing {
  private readonly entries: Entry[] = [];

  /** `tenant:key` pairs (EXECUTOR_API_KEYS) and `name:key` pairs (EXECUTOR_ADMIN_KEYS). */
  static parse(tenantKeys: string, adminKeys: string): KeyRing {
    const ring = new KeyRing();
    const problems: string[] = [];
    const add = (variable: string, role: Role, raw: string): void => {
      for (const entry of raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        const idx = entry.indexOf(':');
        const name = idx > 0 ? entry.slice(0, idx) : '';
        const key = idx > 0 ? entry.slice(idx + 1) : '';
        if (!NAME_RE.test(name)) {
          problems.push(
            `${variable}: entry "${entry.slice(0, 12)}…" must be name:key (name of [A-Za-z0-9._-]{1,128})`,
          );
          continue;
        }
        if (key.length < MIN_KEY_LENGTH) {
          problems.push(
            `${variable}: the key of "${name}" has ${key.length} characters; keys need at least ${MIN_KEY_LENGTH} (generate one with: openssl rand -hex 32)`,
          );
          continue;
        }
        const d = digest(key);
        if (ring.entries.some((e) => timingSafeEqual(e.digest, d))) {
          problems.push(`${variable}: the key of "${name}" is used twice`);
          continue;
        }
        ring.entries.push({ role, name, digest: d });
      }
    };
    add('EXECUTOR_API_KEYS', 'tenant', tenantKeys);
    add('EXECUTOR_ADMIN_KEYS', 'admin', adminKeys);
    if (problems.length) throw new ConfigError(problems);
    return ring;
  }

  get size(): number {
    return this.entries.length;
  }

  count(role: Role): number {
    return this.entries.filter((e) => e.role === role).length;
  }

  /** The principal of a key, or undefined. Constant time in the key and in which entry matches. */
  lookup(key: string): Principal | undefined {
    const d = digest(key);
    let found: Entry | undefined;
    for (const e of this.entries) {
      // No early exit: every entry is compared whatever matched before.
      if (timingSafeEqual(e.digest, d) && !found) found = e;
    }
    return found ? { role: found.role, name: found.name } : undefined;
  }
}
