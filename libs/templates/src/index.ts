export * from './lib/templates';
export * from './lib/image-build';
