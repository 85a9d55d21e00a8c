import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ApiError } from './api-error';

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checker<T extends TSchema>(schema: T): TypeCheck<T> {
  let c = compiled.get(schema);
  if (!c) {
    c = TypeCompiler.Compile(schema);
    compiled.set(schema, c);
  }
  return c as TypeCheck<T>;
}

/**
 * Validates a request body against a TypeBox schema (compiled once); a mismatch is a 400
 * `invalid_argument` whose message names the field, e.g. `ttlSeconds: Expected integer`.
 */
export function validateBody<T extends TSchema>(schema: T, body: unknown, what = 'body'): Static<T> {
  const c = checker(schema);
  if (c.Check(body)) return body;
  if (body === undefined || body === null || Buffer.isBuffer(body) || typeof body !== 'object') {
    throw new ApiError('invalid_argument', `${what} must be a JSON object (Content-Type: application/json)`);
  }
  const first = c.Errors(body).First();
  const field = first?.path ? first.path.replace(/^\//, '').replace(/\//g, '.') : what;
  throw new ApiError('invalid_argument', `${field}: ${first?.message ?? 'invalid value'}`);
}
