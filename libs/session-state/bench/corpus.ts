// Deterministic workspaces for benchmarks (seeded PRNG): source-like text files and a few
// large files (text logs, random binary, numeric arrays). Used by the session-state bench and,
// through the `@executor/session-state/bench` alias, by the persistence bench.
import { hashContent } from '../src/lib/hash';
import type { WorkspaceEntry } from '../src/lib/model';

export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  'const',
  'let',
  'return',
  'if',
  'else',
  'for',
  'while',
  'function',
  'import',
  'from',
  'export',
  'class',
  'def',
  'self',
  'async',
  'await',
  'None',
  'True',
  'False',
  'print',
  'value',
  'result',
  'data',
  'items',
  'index',
  'config',
  'options',
  'error',
  'request',
  'response',
  'user',
  'session',
  'buffer',
  'length',
  'map',
  'filter',
  'reduce',
  'push',
  'new',
  'this',
  'try',
  'catch',
  'throw',
  'yield',
  'lambda',
  'with',
  'as',
  'in',
  'not',
  'and',
  'or',
];

/** A source-like file of about `size` bytes (identifiers, numbers, indentation, comments). */
export function sourceText(rand: () => number, size: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    const indent = '  '.repeat(Math.floor(rand() * 4));
    const words = 3 + Math.floor(rand() * 8);
    let line = indent;
    for (let i = 0; i < words; i++) {
      const w = WORDS[Math.floor(rand() * WORDS.length)] as string;
      line += rand() < 0.25 ? `${w}_${Math.floor(rand() * 1000)}` : w;
      line += rand() < 0.15 ? `(${Math.floor(rand() * 100)}) ` : ' ';
    }
    if (rand() < 0.1) line += `# note ${Math.floor(rand() * 1e6).toString(36)}`;
    line += '\n';
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join('').slice(0, size));
}

function randomBytes(rand: () => number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) b.writeUInt32LE(Math.floor(rand() * 4294967296), Math.min(i, size - 4));
  return b;
}

function entry(path: string, content: Buffer): WorkspaceEntry {
  return {
    path,
    type: 'file',
    mode: 0o644,
    size: content.byteLength,
    mtimeMs: 1_700_000_000_000,
    hash: hashContent(content),
    content,
  };
}

/** `count` source-like files totalling about `totalBytes`, in nested dirs. */
export function smallFiles(totalBytes: number, count: number, seed = 1): WorkspaceEntry[] {
  const rand = prng(seed);
  const avg = totalBytes / count;
  const out: WorkspaceEntry[] = [];
  for (let i = 0; i < count; i++) {
    const size = Math.max(64, Math.floor(avg * (0.5 + rand())));
    out.push(entry(`src/pkg${i % 20}/mod${i}.py`, sourceText(rand, size)));
  }
  return out;
}

/** A few large files about `totalBytes` in all: half log-like text, a quarter random, a quarter float arrays. */
export function largeFiles(totalBytes: number, seed = 2): WorkspaceEntry[] {
  const rand = prng(seed);
  const q = Math.floor(totalBytes / 4);
  const floats = Buffer.allocUnsafe(q - (q % 4));
  for (let i = 0; i < floats.length; i += 4) floats.writeFloatLE(Math.sin(i / 1000) * 100 + rand(), i);
  return [
    entry('data/train.log', sourceText(rand, q)),
    entry('data/eval.log', sourceText(rand, q)),
    entry('data/weights.bin', randomBytes(rand, q)),
    entry('data/series.f32', floats),
  ];
}
