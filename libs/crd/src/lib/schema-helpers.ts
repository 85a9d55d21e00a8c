import {
  CloneType,
  FormatRegistry,
  Type,
  type Evaluate,
  type SchemaOptions,
  type Static,
  type TArray,
  type TLiteral,
  type TObject,
  type TOptional,
  type TProperties,
  type TSchema,
  type TString,
  type TUnion,
} from '@sinclair/typebox';

/**
 * Schema building blocks that map 1:1 onto Kubernetes structural schemas (see ./structural.ts for the
 * conversion). TypeBox is the source: the CRD YAML and the TypeScript types both derive from it.
 */

declare const DefaultBrand: unique symbol;
/** An optional property that the API server (and {@link Value.Default}) fills with `default`. */
export type TDefaulted<T extends TSchema> = TOptional<T> & { readonly [DefaultBrand]: true };

/** Marks `schema` optional with a default value; {@link Resolved} then types the property as present. */
export function WithDefault<T extends TSchema>(schema: T, value: Static<T>): TDefaulted<T> {
  return Type.Optional(CloneType(schema, { default: value })) as TDefaulted<T>;
}

/** A string enum: TypeBox union of literals (checked natively), emitted as `{type: string, enum}` in the CRD. */
export function StringEnum<const V extends readonly [string, ...string[]]>(
  values: V,
  options: SchemaOptions = {},
): TUnion<TLiteral<V[number]>[]> {
  return Type.Union(
    values.map((v) => Type.Literal(v)),
    options,
  );
}

type IsDefaulted<S> = S extends { readonly [DefaultBrand]: true } ? true : false;
type IsOptional<S> = S extends TOptional<TSchema> ? true : false;
type ResolvedObject<P extends TProperties> = Evaluate<
  {
    [
      K in keyof P as IsOptional<P[K]> extends true ? (IsDefaulted<P[K]> extends true ? K : never) : K
    ]: Resolved<P[K]>;
  } & {
    [
      K in keyof P as IsOptional<P[K]> extends true ? (IsDefaulted<P[K]> extends true ? never : K) : never
    ]?: Resolved<P[K]>;
  }
>;
/** The static type of a value after defaulting: properties with a default are present. */
export type Resolved<S> =
  S extends TObject<infer P>
    ? ResolvedObject<P>
    : S extends TArray<infer I>
      ? Resolved<I>[]
      : S extends TSchema
        ? Static<S>
        : never;

const RFC3339 =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
if (!FormatRegistry.Has('date-time'))
  FormatRegistry.Set('date-time', (v) => RFC3339.test(v) && !isNaN(Date.parse(v)));

/** RFC 3339 timestamp string (`metav1.Time` on the wire). */
export function DateTime(options: { description?: string } = {}): TString {
  return Type.String({ ...options, format: 'date-time' });
}

/** DNS-1123 label: lower-case alphanumerics and `-`, at most 63 characters. */
export const DNS1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** DNS-1035 label (Service names): like a DNS-1123 label but starting with a letter. */
export const DNS1035_LABEL = '^[a-z]([-a-z0-9]*[a-z0-9])?$';
/** Environment variable names, as Kubernetes validates them. */
export const ENV_VAR_NAME = '^[-._a-zA-Z][-._a-zA-Z0-9]*$';
/** `metav1.Condition.reason`. */
export const CONDITION_REASON = '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$';
/**
 * A non-negative Kubernetes resource quantity (`resource.Quantity` serialisation): decimal number
 * with an optional binary (Ki…Ei), decimal (n u m k M G T P E) or exponent suffix.
 */
export const QUANTITY_PATTERN =
  '^(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

export const X_INT_OR_STRING = 'x-kubernetes-int-or-string';
export const X_PRESERVE_UNKNOWN = 'x-kubernetes-preserve-unknown-fields';
export const X_VALIDATIONS = 'x-kubernetes-validations';
export const X_LIST_TYPE = 'x-kubernetes-list-type';
export const X_LIST_MAP_KEYS = 'x-kubernetes-list-map-keys';

/** A CEL validation rule (`x-kubernetes-validations` item). */
export interface CelRule {
  readonly rule: string;
  readonly message: string;
}

/** A quantity: an integer (`cpu: 2`) or a quantity string (`cpu: 500m`), as Kubernetes accepts. */
export function Quantity(description: string): TUnion<[ReturnType<typeof Type.Integer>, TString]> {
  return Type.Union([Type.Integer({ minimum: 0 }), Type.String({ pattern: QUANTITY_PATTERN })], {
    description,
    [X_INT_OR_STRING]: true,
  });
}

/** An object whose fields Kubernetes keeps unvalidated (only for pass-through Kubernetes types). */
export function OpaqueObject(description: string): TObject<Record<never, TSchema>> {
  return Type.Object({}, { description, [X_PRESERVE_UNKNOWN]: true });
}

/** `type: object` with string values (labels, nodeSelector). */
export function StringMap(description: string): ReturnType<typeof Type.Record<TString, TString>> {
  return Type.Record(Type.String(), Type.String(), { description });
}
