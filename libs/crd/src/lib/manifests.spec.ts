import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { TEMPLATE_NAMES } from '@executor/templates';
import {
  CRD_NAMES,
  ExecutorPoolSpecSchema,
  ExecutorSessionSpecSchema,
  GROUP,
  POOL_SPEC_RULES,
  StringEnum,
  crdManifests,
  renderCrdYaml,
  stripCelRules,
  structuralViolations,
  toStructuralSchema,
  type CustomResourceDefinition,
  type JSONSchemaProps,
} from '../index';

interface Version {
  name: string;
  schema: { openAPIV3Schema: JSONSchemaProps };
  subresources: Record<string, unknown>;
  additionalPrinterColumns: { name: string; jsonPath: string; type: string }[];
}
const version = (crd: CustomResourceDefinition): Version => (crd.spec['versions'] as Version[])[0];
const schemaOf = (crd: CustomResourceDefinition): JSONSchemaProps => version(crd).schema.openAPIV3Schema;
const props = (s: JSONSchemaProps): Record<string, JSONSchemaProps> =>
  s['properties'] as Record<string, JSONSchemaProps>;

/** Every `default` in a CRD schema, with the JSON path of the node that carries it. */
function collectDefaults(
  node: JSONSchemaProps,
  path: string,
  out: [string, unknown][] = [],
): [string, unknown][] {
  if (node['default'] !== undefined) out.push([path, node['default']]);
  for (const [k, child] of Object.entries((node['properties'] ?? {}) as Record<string, JSONSchemaProps>)) {
    collectDefaults(child, `${path}.${k}`, out);
  }
  if (node['items']) collectDefaults(node['items'] as JSONSchemaProps, `${path}[]`, out);
  return out;
}

describe('crdManifests', () => {
  const [pool, session] = crdManifests();

  it('builds two namespaced apiextensions.k8s.io/v1 CRDs of the group, served and stored as v1', () => {
    for (const crd of [pool, session]) {
      expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
      expect(crd.kind).toBe('CustomResourceDefinition');
      expect(crd.spec['group']).toBe(GROUP);
      expect(crd.spec['scope']).toBe('Namespaced');
      expect(version(crd)).toMatchObject({ name: 'v1', served: true, storage: true });
    }
    expect([pool.metadata.name, session.metadata.name]).toEqual([CRD_NAMES.pool, CRD_NAMES.session]);
    expect(pool.spec['names']).toMatchObject({
      kind: 'ExecutorPool',
      plural: 'executorpools',
      shortNames: ['xp', 'xpool'],
      categories: ['executor'],
    });
    expect(session.spec['names']).toMatchObject({
      kind: 'ExecutorSession',
      plural: 'executorsessions',
      shortNames: ['xs', 'xsession'],
    });
  });

  it('has structural schemas', () => {
    expect(structuralViolations(schemaOf(pool))).toEqual([]);
    expect(structuralViolations(schemaOf(session))).toEqual([]);
  });

  it('has status on both, and scale on pools pointing at existing fields', () => {
    expect(version(pool).subresources).toEqual({
      status: {},
      scale: {
        specReplicasPath: '.spec.replicas',
        statusReplicasPath: '.status.replicas',
        labelSelectorPath: '.status.selector',
      },
    });
    expect(version(session).subresources).toEqual({ status: {} });
    const root = props(schemaOf(pool));
    expect(props(root['spec'])['replicas'].type).toBe('integer');
    expect(props(root['status'])['replicas'].type).toBe('integer');
    expect(props(root['status'])['selector'].type).toBe('string');
  });

  it('has the printer columns, each on a path that exists in the schema', () => {
    const names = (crd: CustomResourceDefinition): string[] =>
      version(crd)
        .additionalPrinterColumns.filter((c) => !('priority' in c))
        .map((c) => c.name);
    expect(names(pool)).toEqual(['Template', 'Min', 'Max', 'Replicas', 'Ready', 'Queue', 'Sessions', 'Age']);
    expect(names(session)).toEqual(['Pool', 'Pod', 'Phase', 'Expires', 'Age']);
    for (const crd of [pool, session]) {
      for (const column of version(crd).additionalPrinterColumns) {
        if (column.jsonPath === '.metadata.creationTimestamp') continue;
        let node: JSONSchemaProps | undefined = schemaOf(crd);
        for (const part of column.jsonPath.slice(1).split('.')) node = node && props(node)?.[part];
        expect({ column: column.name, type: node?.type }).toEqual({
          column: column.name,
          type: column.type === 'date' ? 'string' : column.type,
        });
      }
    }
  });

  it('turns TypeBox unions into enums, keeps defaults and the CEL rules', () => {
    const spec = props(schemaOf(pool))['spec'];
    expect(props(spec)['template']).toMatchObject({ type: 'string', enum: [...TEMPLATE_NAMES] });
    expect(spec['x-kubernetes-validations']).toEqual(
      POOL_SPEC_RULES.map(({ rule, message }) => ({ rule, message })),
    );
    expect(spec['required']).toEqual(['template']);
    expect(props(spec)['minReplicas']).toMatchObject({ type: 'integer', minimum: 0, default: 1 });
    const cpu = props(props(props(spec)['resources'])['limits'])['cpu'];
    expect(cpu).toMatchObject({
      'x-kubernetes-int-or-string': true,
      anyOf: [{ type: 'integer' }, { type: 'string' }],
    });
    expect(cpu['type']).toBeUndefined();
    const sessionSpec = props(schemaOf(session))['spec'];
    expect(props(sessionSpec)['sessionId']['x-kubernetes-validations']).toEqual([
      { rule: 'self == oldSelf', message: 'sessionId is immutable' },
    ]);
    expect(JSON.stringify(crdManifests())).not.toMatch(/"const"|"\$id"|"\$ref"|patternProperties/);
  });

  it('has only defaults that the TypeBox schema accepts and that are not empty strings (rejected by 1.20)', () => {
    const check = (
      crd: CustomResourceDefinition,
      specSchema: typeof ExecutorPoolSpecSchema | typeof ExecutorSessionSpecSchema,
      base: Record<string, unknown>,
    ): void => {
      const defaults = collectDefaults(props(schemaOf(crd))['spec'], 'spec');
      expect(defaults.length).toBeGreaterThan(0);
      for (const [path, value] of defaults) expect({ path, value }).not.toEqual({ path, value: '' });
      // The fully defaulted minimal spec validates.
      expect(
        Value.Errors(specSchema, Value.Default(specSchema, structuredClone(base))).First(),
      ).toBeUndefined();
    };
    check(pool, ExecutorPoolSpecSchema, { template: 'python' });
    check(session, ExecutorSessionSpecSchema, { sessionId: 'a', pool: 'p', tenant: 't', template: 'r' });
  });

  it('strips CEL rules for API servers older than 1.25 and keeps everything else', () => {
    const old = crdManifests({ targetVersion: '1.20' });
    expect(JSON.stringify(old)).not.toContain('x-kubernetes-validations');
    expect(JSON.stringify(crdManifests({ targetVersion: '1.25' }))).toContain('x-kubernetes-validations');
    const removeCel = (text: string): string => text.replace(/,?"x-kubernetes-validations":\[[^\]]*\]/g, '');
    expect(JSON.stringify(old)).toBe(removeCel(JSON.stringify(crdManifests())));
    expect(() => crdManifests({ targetVersion: 'v1.20' as '1.20' })).toThrow(/Invalid targetVersion/);
    expect(renderCrdYaml({ targetVersion: '1.20' })).not.toContain('x-kubernetes-validations');
  });

  it('stripCelRules leaves default data alone and copies', () => {
    const input = {
      type: 'object',
      'x-kubernetes-validations': [{ rule: 'true', message: 'm' }],
      default: { a: 1 },
    };
    const out = stripCelRules(input);
    expect(out).toEqual({ type: 'object', default: { a: 1 } });
    expect(out.default).not.toBe(input.default);
  });
});

describe('toStructuralSchema', () => {
  it('converts records, literals and preserve-unknown objects', () => {
    expect(toStructuralSchema(Type.Record(Type.String(), Type.Integer()))).toEqual({
      type: 'object',
      additionalProperties: { type: 'integer' },
    });
    expect(toStructuralSchema(Type.Literal('x'))).toEqual({ type: 'string', enum: ['x'] });
    expect(toStructuralSchema(StringEnum(['a', 'b'], { description: 'd' }))).toEqual({
      type: 'string',
      description: 'd',
      enum: ['a', 'b'],
    });
  });

  it.each([
    [
      'a union of different types',
      Type.Union([Type.String(), Type.Integer()]),
      /unions other than string enums/,
    ],
    ['a numeric literal', Type.Literal(3), /only string literals/],
    [
      'additionalProperties: false',
      Type.Object({ a: Type.String() }, { additionalProperties: false }),
      /additionalProperties is not supported/,
    ],
    ['an $id', Type.String({ $id: 'X' }), /unsupported keyword "\$id"/],
    [
      'a numeric exclusiveMinimum (draft 2019, not Kubernetes)',
      Type.Integer({ exclusiveMinimum: 0 }),
      /unsupported keyword "exclusiveMinimum"/,
    ],
    [
      'an empty object without preserve-unknown-fields',
      Type.Object({}),
      /needs x-kubernetes-preserve-unknown-fields/,
    ],
    ['an unknown type', Type.Null(), /unsupported type "null"/],
    ['a nested problem (path in the message)', Type.Object({ a: Type.Object({ b: Type.Any() }) }), /at a\.b/],
  ])('rejects %s', (_d, schema, message) => {
    expect(() => toStructuralSchema(schema)).toThrow(message);
  });
});

describe('structuralViolations', () => {
  const ok: JSONSchemaProps = {
    type: 'object',
    properties: { spec: { type: 'object', properties: { a: { type: 'string' } } } },
  };

  it('accepts a minimal structural schema', () => {
    expect(structuralViolations(ok)).toEqual([]);
  });

  it.each<[string, JSONSchemaProps, RegExp]>([
    ['missing type', { type: 'object', properties: { spec: { properties: {} } } }, /spec: missing type/],
    [
      '$ref',
      { type: 'object', properties: { spec: { type: 'object', $ref: '#/x' } } },
      /"\$ref" is not allowed/,
    ],
    [
      'additionalProperties with properties',
      {
        type: 'object',
        properties: { spec: { type: 'object', properties: {}, additionalProperties: { type: 'string' } } },
      },
      /additionalProperties together with properties/,
    ],
    [
      'additionalProperties: false',
      { type: 'object', properties: { spec: { type: 'object', additionalProperties: false } } },
      /must be a schema/,
    ],
    [
      'typed anyOf branches',
      {
        type: 'object',
        properties: { spec: { type: 'string', anyOf: [{ type: 'string' }, { type: 'integer' }] } },
      },
      /anyOf branch must not set "type"/,
    ],
    [
      'unknown keyword (dropped by old API servers)',
      { type: 'object', properties: { spec: { type: 'string', const: 'x' } } },
      /unknown keyword "const"/,
    ],
    [
      'array without items',
      { type: 'object', properties: { spec: { type: 'array' } } },
      /needs a single items schema/,
    ],
    [
      'required that is not a property',
      { type: 'object', properties: { spec: { type: 'object', properties: {}, required: ['x'] } } },
      /required "x" is not a property/,
    ],
    [
      'metadata restrictions beyond name',
      {
        type: 'object',
        properties: { metadata: { type: 'object', properties: { labels: { type: 'object' } } } },
      },
      /only name and generateName/,
    ],
    [
      'list-map key not required',
      {
        type: 'object',
        properties: {
          spec: {
            type: 'array',
            'x-kubernetes-list-type': 'map',
            'x-kubernetes-list-map-keys': ['k'],
            items: { type: 'object', properties: { k: { type: 'string' } } },
          },
        },
      },
      /must be required or defaulted/,
    ],
    [
      'preserve-unknown-fields false',
      {
        type: 'object',
        properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': false } },
      },
      /must be true/,
    ],
    [
      'uniqueItems',
      {
        type: 'object',
        properties: { spec: { type: 'array', uniqueItems: true, items: { type: 'string' } } },
      },
      /"uniqueItems" is not allowed/,
    ],
    [
      'CEL rule fields newer than 1.25',
      {
        type: 'object',
        properties: {
          spec: {
            type: 'object',
            properties: {},
            'x-kubernetes-validations': [{ rule: 'true', message: 'm', fieldPath: '.a' }],
          },
        },
      },
      /needs Kubernetes ≥ 1.27/,
    ],
  ])('flags %s', (_d, schema, message) => {
    expect(structuralViolations(schema).join('\n')).toMatch(message);
  });
});
