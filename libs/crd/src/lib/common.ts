import { Type, type Static } from '@sinclair/typebox';
import { ConditionStatus } from './constants';
import {
  CONDITION_REASON,
  DateTime,
  StringEnum,
  StringMap,
  X_LIST_MAP_KEYS,
  X_LIST_TYPE,
} from './schema-helpers';

/** A status condition, shaped like `metav1.Condition` (message optional). */
export const ConditionSchema = Type.Object(
  {
    type: Type.String({ minLength: 1, maxLength: 316, description: 'Condition type, e.g. Ready.' }),
    status: StringEnum([ConditionStatus.True, ConditionStatus.False, ConditionStatus.Unknown]),
    reason: Type.String({
      minLength: 1,
      maxLength: 1024,
      pattern: CONDITION_REASON,
      description: 'CamelCase machine-readable reason (exported constants of @executor/crd).',
    }),
    message: Type.Optional(Type.String({ maxLength: 32768, description: 'Human-readable details.' })),
    lastTransitionTime: DateTime({ description: 'When status last changed.' }),
    observedGeneration: Type.Optional(
      Type.Integer({ minimum: 0, description: 'metadata.generation the condition was computed for.' }),
    ),
  },
  { description: 'Status condition (metav1.Condition).' },
);
export type Condition = Static<typeof ConditionSchema>;

/** `status.conditions`: a list-map keyed by `type` (server-side apply merges per type). */
export function ConditionsSchema(): ReturnType<typeof Type.Array<typeof ConditionSchema>> {
  return Type.Array(ConditionSchema, {
    description: 'Current conditions; at most one per type.',
    maxItems: 16,
    [X_LIST_TYPE]: 'map',
    [X_LIST_MAP_KEYS]: ['type'],
  });
}

/**
 * The part of `metav1.ObjectMeta` this library reads. Other fields are allowed and kept as they are;
 * the CRD itself leaves `metadata` to the API server.
 */
export const ObjectMetaSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 253 }),
  namespace: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
  labels: Type.Optional(StringMap('Labels.')),
  annotations: Type.Optional(StringMap('Annotations.')),
  uid: Type.Optional(Type.String()),
  resourceVersion: Type.Optional(Type.String()),
  generation: Type.Optional(Type.Integer({ minimum: 0 })),
  creationTimestamp: Type.Optional(Type.String()),
  deletionTimestamp: Type.Optional(Type.String()),
  finalizers: Type.Optional(Type.Array(Type.String())),
});
export type ObjectMeta = Static<typeof ObjectMetaSchema>;
