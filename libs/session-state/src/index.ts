export * from './lib/model';
export * from './lib/errors';
export * from './lib/hash';
export * from './lib/compression';
export * from './lib/blob';
export * from './lib/codec';
export { assertSafePath, resolveLink, validateEntries } from './lib/paths';
export * from './lib/workspace';
