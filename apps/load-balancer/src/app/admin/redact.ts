/**
 * What the admin UI shows of job data and results: session code, env values, stdin, file and
 * process contents and output are replaced by `[redacted: N chars]` (keys, ids, sizes, codes
 * stay, so a job can still be understood and debugged). ADMIN_UI_SESSION_DATA=shown turns this off.
 */

/** Fields whose string value is replaced. */
const SECRET_FIELDS = new Set([
  'code',
  'stdout',
  'stderr',
  'stdin',
  'data',
  'text',
  'input',
  'traceback',
  'value',
  'cmd',
  'args',
]);
/** Fields whose object values are all replaced (the keys stay visible). */
const SECRET_MAPS = new Set(['env', 'envs', 'metadata']);
/** Fields dropped whole (rich results: images, html, json of user data). */
const SECRET_LISTS = new Set(['results', 'error', 'history']);

const mark = (v: unknown): string =>
  `[redacted: ${typeof v === 'string' ? `${v.length} chars` : Array.isArray(v) ? `${v.length} items` : typeof v}]`;

/** A copy of `value` with every session secret replaced (depth-limited). */
export function redactSessionData(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactSessionData(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (SECRET_MAPS.has(k) && v && typeof v === 'object' && !Array.isArray(v)) {
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([ek, ev]) => [ek, mark(ev)]),
      );
    } else if (SECRET_LISTS.has(k) && v !== undefined && v !== null) {
      out[k] = mark(v);
    } else if (
      SECRET_FIELDS.has(k) &&
      v !== null &&
      v !== undefined &&
      typeof v !== 'number' &&
      typeof v !== 'boolean'
    ) {
      out[k] = mark(v);
    } else {
      out[k] = redactSessionData(v, depth + 1);
    }
  }
  return out;
}
