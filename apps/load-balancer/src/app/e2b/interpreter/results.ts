import { ResultMime, type ResultItem } from '@executor/queues';

/** Jupyter mime type → the key E2B's code interpreter uses in a `result` line. */
const E2B_KEYS: Readonly<Record<string, string>> = {
  [ResultMime.text]: 'text',
  [ResultMime.html]: 'html',
  [ResultMime.markdown]: 'markdown',
  [ResultMime.svg]: 'svg',
  [ResultMime.png]: 'png',
  [ResultMime.jpeg]: 'jpeg',
  [ResultMime.pdf]: 'pdf',
  [ResultMime.latex]: 'latex',
  [ResultMime.json]: 'json',
  [ResultMime.javascript]: 'javascript',
};

/** E2B strips one pair of surrounding single quotes from `text/plain` (`'v1'` → `v1`). */
export function e2bText(plain: string): string {
  return plain.length >= 2 && plain.startsWith("'") && plain.endsWith("'") ? plain.slice(1, -1) : plain;
}

/**
 * A rich result as an NDJSON `result` line of E2B's `/execute`: known mime types under E2B's
 * names, any other mime type under its own name (the SDK collects those in `Result.extra`).
 */
export function e2bResultLine(item: ResultItem): Record<string, unknown> {
  const line: Record<string, unknown> = { type: 'result', is_main_result: item.isMain === true };
  for (const [mime, value] of Object.entries(item)) {
    if (mime === 'isMain') continue;
    const key = E2B_KEYS[mime] ?? mime;
    line[key] = key === 'text' && typeof value === 'string' ? e2bText(value) : value;
  }
  return line;
}
