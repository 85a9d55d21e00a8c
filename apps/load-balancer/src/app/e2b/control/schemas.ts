import { Type, type Static } from '@sinclair/typebox';
import { MAX_TTL_SECONDS } from '../../http/schemas';

const Timeout = Type.Integer({ minimum: 1, maximum: MAX_TTL_SECONDS, description: 'seconds' });
const Strings = Type.Record(
  Type.String({ minLength: 1, maxLength: 256 }),
  Type.String({ maxLength: 65536 }),
  {
    maxProperties: 256,
  },
);

/** `NewSandboxV2` as the SDK sends it; fields we do not serve are checked by the controller. */
export const NewSandboxBody = Type.Object(
  {
    templateID: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    timeout: Type.Optional(Timeout),
    metadata: Type.Optional(Strings),
    envVars: Type.Optional(Strings),
    allow_internet_access: Type.Optional(Type.Boolean()),
    secure: Type.Optional(Type.Boolean()),
    autoPause: Type.Optional(Type.Boolean()),
    autoPauseMemory: Type.Optional(Type.Boolean()),
    autoResume: Type.Optional(Type.Object({ enabled: Type.Boolean() })),
    mcp: Type.Optional(Type.Unknown()),
    volumeMounts: Type.Optional(Type.Array(Type.Unknown())),
  },
  { additionalProperties: true },
);
export type NewSandboxBody = Static<typeof NewSandboxBody>;

export const ConnectBody = Type.Object(
  { timeout: Type.Optional(Timeout), memory: Type.Optional(Type.Boolean()) },
  { additionalProperties: true },
);

export const TimeoutBody = Type.Object({ timeout: Timeout }, { additionalProperties: true });
