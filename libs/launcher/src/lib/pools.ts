import type { PoolSpec } from './platform';

/**
 * The pools `npm start` runs when POOLS is not set — and the end-to-end suites that test "the stack
 * as npm start runs it" use the same list. `code-interpreter-v1` is E2B's code-interpreter default
 * template, `base` the default of `e2b`'s Sandbox.create().
 */
export const DEFAULT_POOLS_SPEC =
  'python:python:2,python-data:python-data:1,node:node:1,code-interpreter:code-interpreter-v1:1,base:base:1';

/** Parses `name:template[:replicas[:region]],…` (POOLS). */
export function parsePools(spec: string): PoolSpec[] {
  return spec.split(',').map((entry) => {
    const [name, template, replicas, region] = entry.trim().split(':');
    if (!name || !template)
      throw new Error(`POOLS entry "${entry}" must be name:template[:replicas[:region]]`);
    const n = Number(replicas ?? 1);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`POOLS entry "${entry}": replicas must be a positive integer`);
    return { name, template, replicas: n, region: region || undefined };
  });
}

/** The default pools (see DEFAULT_POOLS_SPEC). */
export function defaultPools(): PoolSpec[] {
  return parsePools(DEFAULT_POOLS_SPEC);
}
