import { Type, type TString } from '@sinclair/typebox';

/** An identifier safe in Redis keys, channel names and job ids. */
export const Id = (description: string): TString =>
  Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$', description });

/** A string → string map (env, metadata). */
export const StringMap = Type.Record(
  Type.String({ minLength: 1, maxLength: 256 }),
  Type.String({ maxLength: 65536 }),
);

/** Fields every pod-queue job carries. */
export const SessionEnvelope = {
  sessionId: Id('session id'),
  tenant: Id('tenant that owns the session'),
};
