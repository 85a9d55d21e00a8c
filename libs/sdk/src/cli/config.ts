import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from './args.js';

/** Where the CLI's API URL and key come from: flags > environment > config file > default URL. */
export interface CliConfig {
  url: string;
  apiKey: string;
}

/** URL of `npm start` (API.md "Local defaults"). */
export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** `EXECUTOR_CONFIG`, else `$XDG_CONFIG_HOME/executor/config.json`, else `~/.config/executor/config.json`. */
export function configPath(env: NodeJS.ProcessEnv, flag?: string): { path: string; explicit: boolean } {
  if (flag) return { path: flag, explicit: true };
  if (env['EXECUTOR_CONFIG']) return { path: env['EXECUTOR_CONFIG'], explicit: true };
  const base = env['XDG_CONFIG_HOME'] || join(env['HOME'] || homedir(), '.config');
  return { path: join(base, 'executor', 'config.json'), explicit: false };
}

interface FileConfig {
  url?: string;
  apiKey?: string;
}

function readConfigFile(path: string, explicit: boolean): FileConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return {};
    throw new UsageError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new UsageError(`config file ${path}: expected a JSON object like {"url": "...", "apiKey": "..."}`);
  const obj = parsed as Record<string, unknown>;
  const out: FileConfig = {};
  for (const [field, value] of Object.entries(obj)) {
    if (field !== 'url' && field !== 'apiKey')
      throw new UsageError(`config file ${path}: unknown field "${field}" (known: url, apiKey)`);
    if (typeof value !== 'string') throw new UsageError(`config file ${path}: "${field}" must be a string`);
    out[field] = value;
  }
  return out;
}

export function resolveConfig(
  flags: { url?: string; key?: string; config?: string },
  env: NodeJS.ProcessEnv,
): CliConfig {
  const { path, explicit } = configPath(env, flags.config);
  const file = readConfigFile(path, explicit);
  const url = flags.url || env['EXECUTOR_URL'] || file.url || DEFAULT_URL;
  const apiKey = flags.key || env['EXECUTOR_API_KEY'] || file.apiKey;
  if (!apiKey) {
    throw new UsageError(`no API key: pass --key, set EXECUTOR_API_KEY, or put {"apiKey": "..."} in ${path}`);
  }
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new UsageError(`API URL "${url}" is not an http(s) URL`);
  }
  return { url, apiKey };
}
