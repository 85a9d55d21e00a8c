import { Type, type Static } from '@sinclair/typebox';
import { TEMPLATE_NAMES } from '@executor/templates';
import { API_VERSION, KIND_SESSION, MigrationReason, SESSION_PHASES, type SessionPhase } from './constants';
import { ConditionsSchema, ObjectMetaSchema } from './common';
import { POOL_NAME_MAX_LENGTH, POOL_NAME_PATTERN } from './pool';
import {
  DateTime,
  DNS1123_LABEL,
  StringEnum,
  WithDefault,
  X_VALIDATIONS,
  type CelRule,
  type Resolved,
} from './schema-helpers';

export const SESSION_DEFAULTS = { persist: true, ttlSeconds: 300 } as const;

/** Session ids as the load balancer issues them (URL- and label-safe). */
export const SESSION_ID_PATTERN = '^[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$';

function immutable(field: string): CelRule[] {
  return [{ rule: 'self == oldSelf', message: `${field} is immutable` }];
}

/** Fields that never change after creation (CEL transition rules; {@link validateSessionUpdate} in TS). */
export const IMMUTABLE_SESSION_FIELDS = ['sessionId', 'pool', 'tenant', 'template'] as const;

export const ExecutorSessionSpecSchema = Type.Object(
  {
    sessionId: Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: SESSION_ID_PATTERN,
      description: 'Public session id (never changes, also across migrations).',
      [X_VALIDATIONS]: immutable('sessionId'),
    }),
    pool: Type.String({
      minLength: 1,
      maxLength: POOL_NAME_MAX_LENGTH,
      pattern: POOL_NAME_PATTERN,
      description: 'ExecutorPool (same namespace) the session belongs to.',
      [X_VALIDATIONS]: immutable('pool'),
    }),
    tenant: Type.String({
      minLength: 1,
      maxLength: 253,
      description: 'Owner of the session.',
      [X_VALIDATIONS]: immutable('tenant'),
    }),
    template: StringEnum(TEMPLATE_NAMES, {
      description: "Template of the session (must match the pool's).",
      [X_VALIDATIONS]: immutable('template'),
    }),
    pod: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 253,
        description: 'Pod the session is assigned to (affinity); changes on migration.',
      }),
    ),
    region: Type.Optional(Type.String({ minLength: 1, maxLength: 63, pattern: DNS1123_LABEL })),
    persist: WithDefault(Type.Boolean({ description: 'Snapshot the session so it survives its pod.' }), true),
    ttlSeconds: WithDefault(
      Type.Integer({ minimum: 1, description: 'Idle TTL in seconds; each use moves the expiry forward.' }),
      SESSION_DEFAULTS.ttlSeconds,
    ),
  },
  { description: 'Desired state of a session.' },
);

export const MigrationSchema = Type.Object(
  {
    from: Type.String({ minLength: 1, description: 'Pod the session left.' }),
    to: Type.String({ minLength: 1, description: 'Pod the session moved to.' }),
    at: DateTime({ description: 'When the migration completed.' }),
    reason: Type.String({
      minLength: 1,
      maxLength: 1024,
      description: `Why: ${Object.values(MigrationReason).join(', ')} (or another CamelCase reason).`,
    }),
  },
  { description: 'One move of the session between pods.' },
);

export const ExecutorSessionStatusSchema = Type.Object(
  {
    phase: Type.Optional(StringEnum(SESSION_PHASES as unknown as readonly [SessionPhase, ...SessionPhase[]])),
    pod: Type.Optional(Type.String({ description: 'Pod currently serving the session.' })),
    migrations: Type.Optional(Type.Array(MigrationSchema, { description: 'Migrations, oldest first.' })),
    lastSnapshotAt: Type.Optional(DateTime({ description: 'Time of the latest stored snapshot.' })),
    expiresAt: Type.Optional(DateTime({ description: 'When the session expires unless used.' })),
    conditions: Type.Optional(ConditionsSchema()),
    observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { description: 'Observed state of a session.' },
);

export const ExecutorSessionSchema = Type.Object({
  apiVersion: Type.Literal(API_VERSION),
  kind: Type.Literal(KIND_SESSION),
  metadata: ObjectMetaSchema,
  spec: ExecutorSessionSpecSchema,
  status: Type.Optional(ExecutorSessionStatusSchema),
});

export type ExecutorSessionSpec = Static<typeof ExecutorSessionSpecSchema>;
export type ExecutorSessionStatus = Static<typeof ExecutorSessionStatusSchema>;
export type ExecutorSession = Static<typeof ExecutorSessionSchema>;
export type Migration = Static<typeof MigrationSchema>;
export type ResolvedSessionSpec = Resolved<typeof ExecutorSessionSpecSchema>;
export type ResolvedSession = Omit<ExecutorSession, 'spec'> & { spec: ResolvedSessionSpec };
