import { Type, type Static } from '@sinclair/typebox';
import { TEMPLATE_NAMES } from '@executor/templates';

const StringMap = (what: string) =>
  Type.Record(
    Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }),
    Type.String({ maxLength: 65536 }),
    {
      maxProperties: 256,
      description: what,
    },
  );
const MetaMap = Type.Record(
  Type.String({ minLength: 1, maxLength: 256 }),
  Type.String({ maxLength: 65536 }),
  { maxProperties: 256 },
);

/** Longest idle TTL a session may ask for (seconds): 7 days. */
export const MAX_TTL_SECONDS = 7 * 24 * 3600;

export const CreateSessionBody = Type.Object(
  {
    template: Type.String({ minLength: 1, maxLength: 64 }),
    region: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
    persist: Type.Optional(Type.Boolean()),
    ttlSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TTL_SECONDS })),
    env: Type.Optional(StringMap('environment variables')),
    metadata: Type.Optional(MetaMap),
  },
  { additionalProperties: false },
);
export type CreateSessionBody = Static<typeof CreateSessionBody>;

export const PatchSessionBody = Type.Object(
  { ttlSeconds: Type.Integer({ minimum: 1, maximum: MAX_TTL_SECONDS }) },
  { additionalProperties: false },
);

export const MAX_TIMEOUT_MS = 300_000;
export const ExecuteBody = Type.Object(
  {
    code: Type.String(),
    language: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TIMEOUT_MS })),
    env: Type.Optional(StringMap('environment variables')),
    context: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._-]+$' })),
  },
  { additionalProperties: false },
);
export type ExecuteBody = Static<typeof ExecuteBody>;

export const InstallPackagesBody = Type.Object(
  {
    manager: Type.Optional(Type.Union([Type.Literal('pip'), Type.Literal('npm')])),
    packages: Type.Array(
      Type.String({ minLength: 1, maxLength: 214, pattern: '^[A-Za-z0-9@/._\\-\\[\\],=<>~!^*+ ]+$' }),
      {
        minItems: 1,
        maxItems: 100,
      },
    ),
  },
  { additionalProperties: false },
);

export const RegisterPoolBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
    template: Type.String({ minLength: 1, maxLength: 64 }),
    region: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
    weight: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);
export type RegisterPoolBody = Static<typeof RegisterPoolBody>;

export const KNOWN_TEMPLATES: readonly string[] = TEMPLATE_NAMES;
