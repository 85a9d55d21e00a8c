import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Random bytes in every generated key. */
export const KEY_BYTES = 32;
/** Length of a {@link KEY_BYTES}-byte key in base64url. */
const KEY_CHARS = Math.ceil((KEY_BYTES * 4) / 3);

/** A fresh `name:key` with {@link KEY_BYTES} random bytes (base64url). */
export function generateKey(name: string): string {
  return `${name}:${randomBytes(KEY_BYTES).toString('base64url')}`;
}

/**
 * The `name:key` kept in `file` (mode 0600), generated once. A file holding a weaker key (fewer
 * than {@link KEY_BYTES} random bytes, e.g. from an older version) or anything malformed is
 * replaced by a new key; `replaced` says so.
 */
export function ensureKeyFile(
  file: string,
  name: string,
): { entry: string; replaced: boolean; created: boolean } {
  mkdirSync(dirname(file), { recursive: true });
  let created = false;
  let replaced = false;
  if (existsSync(file)) {
    const current = readFileSync(file, 'utf8').trim();
    const key = current.split(':')[1] ?? '';
    if (!/^[^:\s]+:[A-Za-z0-9_-]+$/.test(current) || key.length < KEY_CHARS) {
      writeFileSync(file, `${generateKey(name)}\n`, { mode: 0o600 });
      replaced = true;
    }
  } else {
    writeFileSync(file, `${generateKey(name)}\n`, { mode: 0o600 });
    created = true;
  }
  chmodSync(file, 0o600);
  return { entry: readFileSync(file, 'utf8').trim(), replaced, created };
}
