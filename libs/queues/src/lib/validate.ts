import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { JobError } from './errors';
import type { JobDef } from './schemas';

/** Describes every schema violation of `value` as `"<path>: <message>"`, at most `max` of them. */
export function describeErrors(schema: TSchema, value: unknown, max = 5): string[] {
  const out: string[] = [];
  for (const e of Value.Errors(schema, value)) {
    out.push(`${e.path || '/'}: ${e.message}`);
    if (out.length >= max) break;
  }
  return out;
}

/**
 * Validates a job's payload at the consumer's edge. An invalid payload fails the job as
 * unrecoverable (`JobError('invalid_argument')`) with a message naming the fields.
 */
export function parsePayload<D extends JobDef>(def: D, data: unknown): Static<D['payload']> {
  if (Value.Check(def.payload, data)) return data as Static<D['payload']>;
  throw new JobError(
    'invalid_argument',
    `invalid payload for job "${def.name}": ${describeErrors(def.payload, data).join('; ')}`,
  );
}

/** Validates a job's result at the producer (a result of the wrong shape is an internal error). */
export function parseResult<D extends JobDef>(def: D, data: unknown): Static<D['result']> {
  if (Value.Check(def.result, data)) return data as Static<D['result']>;
  throw new JobError(
    'internal',
    `invalid result of job "${def.name}": ${describeErrors(def.result, data).join('; ')}`,
  );
}
