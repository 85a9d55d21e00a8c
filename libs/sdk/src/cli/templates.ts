import { extname } from 'node:path';

/** File extension → template, for `executor run <file>` without `--template`. */
export const TEMPLATE_BY_EXTENSION: Readonly<Record<string, string>> = {
  '.py': 'python',
  '.js': 'node',
  '.mjs': 'node',
  '.cjs': 'node',
  '.ts': 'typescript',
  '.mts': 'typescript',
  '.sh': 'bash',
  '.bash': 'bash',
  '.c': 'c',
  '.cpp': 'cpp',
  '.cc': 'cpp',
  '.cxx': 'cpp',
  '.java': 'java',
  '.rs': 'rust',
  '.go': 'go',
  '.rb': 'ruby',
  '.r': 'r',
  '.R': 'r',
};

export function templateForFile(file: string): string | undefined {
  const ext = extname(file);
  return TEMPLATE_BY_EXTENSION[ext] ?? TEMPLATE_BY_EXTENSION[ext.toLowerCase()];
}
