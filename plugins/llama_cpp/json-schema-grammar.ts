/**
 * JSON Schema to node-llama-cpp's grammar schema (`GbnfJsonSchema`). node-llama-cpp enforces a subset:
 * types, `properties`, `additionalProperties`, `items`, `prefixItems`, `enum`, `const`, `oneOf`, `$ref` to
 * `#/$defs/...`, lengths and counts, and the `date`, `time` and `date-time` formats. Anything else it does not
 * know becomes `null` (an empty schema, `anyOf`, `allOf`), which no real schema means. This translation maps
 * the common shapes (those OpenAI structured outputs and pydantic emit) onto that subset and turns what the
 * grammar cannot express into "any JSON value" here, so the output is still constrained as far as possible;
 * the host validates the full schema afterwards. Every property a schema lists is generated (node-llama-cpp
 * makes them all required), which is valid whatever `required` says.
 */
import type { GbnfJsonSchema } from 'node-llama-cpp';
import type { JsonSchema } from 'lollms-host/plugin-api';

/** llama.cpp refuses a grammar repetition over 2000 (`{m,n}`); larger bounds are left to validation. */
const MAX_GRAMMAR_REPETITION = 2000;
const STRING_FORMATS = new Set(['date', 'time', 'date-time']);
const PRIMITIVE_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'null']);
const ROOT_DEF = '__root';

type Schema = Record<string, unknown>;
type Out = Record<string, unknown>;

/** Any JSON value: node-llama-cpp has no "any" schema, so it is the union of every type. */
const ANY: Out = Object.freeze({
  oneOf: [
    { type: ['string', 'number', 'boolean', 'null'] },
    { type: 'object', additionalProperties: true },
    { type: 'array' },
  ],
});

const isObject = (value: unknown): value is Schema => typeof value === 'object' && value !== null && !Array.isArray(value);
const isPrimitive = (value: unknown) => value === null || ['string', 'number', 'boolean'].includes(typeof value);
const count = (value: unknown) => (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_GRAMMAR_REPETITION ? value : undefined);

/** Translate a (bounds-checked) JSON schema into the grammar schema for `llama.createGrammarForJsonSchema`. */
export function toGrammarSchema(schema: JsonSchema): GbnfJsonSchema {
  const root = isObject(schema) ? schema : {};
  const defs: Out = {};
  for (const key of ['definitions', '$defs'] as const) {
    const found = root[key];
    if (isObject(found)) for (const [name, def] of Object.entries(found)) defs[name] = translate(def);
  }
  const body = translate(schema);
  if (usesRootRef(schema)) defs[ROOT_DEF] = body;
  if (Object.keys(defs).length === 0) return body as GbnfJsonSchema;
  const withDefs = usesRootRef(schema) ? { $ref: `#/$defs/${ROOT_DEF}` } : { ...body };
  return { ...withDefs, $defs: defs } as GbnfJsonSchema;
}

function usesRootRef(schema: unknown): boolean {
  const stack = [schema];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) stack.push(...value);
    else if (isObject(value)) {
      if (value['$ref'] === '#') return true;
      stack.push(...Object.values(value));
    }
  }
  return false;
}

function translate(schema: unknown): Out {
  if (schema === true || !isObject(schema)) return ANY;
  const description = typeof schema['description'] === 'string' ? { description: schema['description'] } : {};

  const ref = schema['$ref'];
  if (typeof ref === 'string') {
    if (ref === '#') return { $ref: `#/$defs/${ROOT_DEF}` };
    const match = /^#\/(?:\$defs|definitions)\/([^/]+)$/.exec(ref);
    return match ? { $ref: `#/$defs/${match[1]!.replace(/~1/g, '/').replace(/~0/g, '~')}`, ...description } : ANY;
  }
  if ('const' in schema) return isPrimitive(schema['const']) ? { const: schema['const'], ...description } : ANY;
  if (Array.isArray(schema['enum'])) {
    const values = schema['enum'];
    return values.length > 0 && values.every(isPrimitive) ? { enum: values, ...description } : ANY;
  }
  const alternatives = Array.isArray(schema['anyOf']) ? schema['anyOf'] : Array.isArray(schema['oneOf']) ? schema['oneOf'] : undefined;
  if (alternatives && alternatives.length > 0) return withNullable(schema, { oneOf: alternatives.map(translate), ...description });
  if (Array.isArray(schema['allOf'])) {
    const parts = schema['allOf'];
    if (parts.length === 1) return withNullable(schema, translate(parts[0]));
    const merged = mergeObjects(parts);
    return merged ? withNullable(schema, translate(merged)) : ANY;
  }

  let type = schema['type'];
  if (type === undefined) {
    if (isObject(schema['properties']) || 'additionalProperties' in schema) type = 'object';
    else if ('items' in schema || Array.isArray(schema['prefixItems'])) type = 'array';
    else return ANY;
  }
  if (Array.isArray(type)) {
    const types = type.filter((t): t is string => typeof t === 'string');
    if (types.length === 0) return ANY;
    if (types.every((t) => PRIMITIVE_TYPES.has(t) && t !== 'string')) return { type: types, ...description };
    return { oneOf: types.map((t) => translate({ ...schema, type: t })), ...description };
  }
  return withNullable(schema, translateTyped(schema, String(type), description));
}

function translateTyped(schema: Schema, type: string, description: Out): Out {
  switch (type) {
    case 'object': {
      const properties = isObject(schema['properties']) ? schema['properties'] : {};
      const entries = Object.entries(properties).map(([name, value]) => [name, translate(value)] as const);
      const extra = schema['additionalProperties'];
      const out: Out = { type: 'object', properties: Object.fromEntries(entries), ...description };
      if (extra === true || (extra === undefined && entries.length === 0)) out['additionalProperties'] = true;
      else if (isObject(extra)) out['additionalProperties'] = translate(extra);
      const min = count(schema['minProperties']);
      const max = count(schema['maxProperties']);
      if (min !== undefined) out['minProperties'] = min;
      if (max !== undefined && max >= entries.length) out['maxProperties'] = max;
      return out;
    }
    case 'array': {
      const out: Out = { type: 'array', ...description };
      const items = schema['items'];
      if (items === false) out['maxItems'] = 0;
      else if (items !== undefined && items !== true) out['items'] = translate(items);
      if (Array.isArray(schema['prefixItems'])) out['prefixItems'] = schema['prefixItems'].map(translate);
      const min = count(schema['minItems']);
      const max = count(schema['maxItems']);
      if (min !== undefined) out['minItems'] = min;
      if (max !== undefined && items !== false) out['maxItems'] = max;
      return out;
    }
    case 'string': {
      if (typeof schema['format'] === 'string' && STRING_FORMATS.has(schema['format'])) return { type: 'string', format: schema['format'], ...description };
      const out: Out = { type: 'string', ...description };
      const min = count(schema['minLength']);
      const max = count(schema['maxLength']);
      if (min !== undefined) out['minLength'] = min;
      if (max !== undefined && (min === undefined || max >= min)) out['maxLength'] = max;
      return out;
    }
    case 'number':
    case 'integer':
    case 'boolean':
    case 'null':
      return { type, ...description };
    default:
      return ANY;
  }
}

/** OpenAPI's `nullable: true`: the value or null. */
function withNullable(schema: Schema, out: Out): Out {
  return schema['nullable'] === true ? { oneOf: [out, { type: 'null' }] } : out;
}

/** `allOf` of plain object schemas (no refs, no alternatives) merged into one; undefined when not that. */
function mergeObjects(parts: unknown[]): Schema | undefined {
  const properties: Schema = {};
  for (const part of parts) {
    if (!isObject(part) || (part['type'] !== undefined && part['type'] !== 'object') || '$ref' in part || 'anyOf' in part || 'oneOf' in part) return undefined;
    if (isObject(part['properties'])) Object.assign(properties, part['properties']);
  }
  return { type: 'object', properties };
}
