/**
 * Output formats (JSON, JSON schema, GBNF grammar) and the bounds every host and binding applies to them
 * before they reach an engine. Schemas and grammars come from clients and processors: the engine turns them
 * into grammars whose size follows theirs, and llama.cpp's grammar parser recurses on nesting (a GBNF nested
 * some 20000 parentheses deep kills the process). Pure functions, no runtime imports: this runs in the host
 * and inside a processor's sandbox alike.
 */

/** A JSON Schema as plain JSON data (an object, or `true`/`false`). Which keywords an engine enforces is the binding's to document. */
export type JsonSchema = boolean | { readonly [keyword: string]: unknown };

/** Any JSON object (OpenAI's `json_object`). */
export interface JsonObjectFormat {
  /** The format's kind. */
  readonly type: 'json_object';
}

/** JSON that follows a schema (OpenAI's `json_schema`). */
export interface JsonSchemaFormat {
  /** The format's kind. */
  readonly type: 'json_schema';
  /** The schema the output follows. */
  readonly schema: JsonSchema;
  /** A name for the schema; informative. */
  readonly name?: string;
}

/** Text that follows a GBNF grammar (llama.cpp's grammar format). */
export interface GbnfFormat {
  /** The format's kind. */
  readonly type: 'gbnf';
  /** The grammar; its start rule is `root`. */
  readonly grammar: string;
}

/** How a generation's output is constrained. */
export type OutputFormat = JsonObjectFormat | JsonSchemaFormat | GbnfFormat;

/** Bounds on schemas and grammars; every field has a default in `DEFAULT_OUTPUT_FORMAT_LIMITS`. */
export interface OutputFormatLimits {
  /** Most characters of a schema's JSON text, or of a GBNF grammar. */
  maxChars?: number;
  /** Deepest nesting: of arrays/objects in a schema document, of parentheses in a grammar. */
  maxDepth?: number;
  /** Most named properties, summed over every `properties`, `patternProperties`, `$defs` and `definitions` of a schema. */
  maxProperties?: number;
}

/** The bounds used when a caller gives none: generous for real schemas, far below what hurts an engine. */
export const DEFAULT_OUTPUT_FORMAT_LIMITS: Readonly<Required<OutputFormatLimits>> = /* @__PURE__ */ Object.freeze({
  maxChars: 64 * 1024,
  maxDepth: 64,
  maxProperties: 1024,
});

/** The codes of `OutputFormatError`. */
export type OutputFormatErrorCode =
  /** A schema over a bound (`limit` says which). */
  | 'LH_ERR_SCHEMA_TOO_LARGE'
  /** Not a JSON schema: not an object or boolean, or not plain JSON data. */
  | 'LH_ERR_SCHEMA_INVALID'
  /** A grammar over a bound (`limit` says which). */
  | 'LH_ERR_GRAMMAR_TOO_LARGE'
  /** Not a grammar: not a string, empty, or unbalanced. */
  | 'LH_ERR_GRAMMAR_INVALID'
  /** An output format that is none of the known types. */
  | 'LH_ERR_FORMAT_INVALID';

/** A refused schema, grammar or format. The message says what was wrong; nothing of the input is echoed beyond its size. */
export class OutputFormatError extends Error {
  /** Stable code to match on. */
  readonly code: OutputFormatErrorCode;
  /** The bound that was exceeded, for the `*_TOO_LARGE` codes. */
  readonly limit?: keyof OutputFormatLimits;

  constructor(code: OutputFormatErrorCode, message: string, limit?: keyof OutputFormatLimits) {
    super(message);
    this.name = 'OutputFormatError';
    this.code = code;
    if (limit !== undefined) this.limit = limit;
  }
}

const PROPERTY_MAPS = /* @__PURE__ */ new Set(['properties', 'patternProperties', '$defs', 'definitions']);

function resolveLimits(limits: OutputFormatLimits | undefined): Required<OutputFormatLimits> {
  return { ...DEFAULT_OUTPUT_FORMAT_LIMITS, ...limits };
}

/**
 * Check that `schema` is a JSON schema within the bounds: an object or boolean made only of plain JSON data
 * (no cycles, functions, `undefined`, non-finite numbers or class instances). Runs in time proportional to
 * the schema and stops at the first bound exceeded.
 * @throws OutputFormatError `LH_ERR_SCHEMA_TOO_LARGE` or `LH_ERR_SCHEMA_INVALID`
 */
export function checkJsonSchema(schema: unknown, limits?: OutputFormatLimits): asserts schema is JsonSchema {
  const { maxChars, maxDepth, maxProperties } = resolveLimits(limits);
  if (typeof schema === 'boolean') return;
  if (!isPlainObject(schema)) throw new OutputFormatError('LH_ERR_SCHEMA_INVALID', 'a JSON schema must be an object or a boolean');
  let chars = 0;
  let properties = 0;
  const tooLarge = (limit: keyof OutputFormatLimits, what: string) =>
    new OutputFormatError('LH_ERR_SCHEMA_TOO_LARGE', `the JSON schema is too large: ${what}`, limit);
  // Iterative walk: a hostile document must not overflow the stack before the depth check sees it.
  const stack: Array<{ value: unknown; depth: number }> = [{ value: schema, depth: 1 }];
  while (stack.length > 0) {
    const { value, depth } = stack.pop()!;
    if (value === null || typeof value === 'boolean') {
      chars += 5;
    } else if (typeof value === 'string') {
      chars += value.length + 2;
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new OutputFormatError('LH_ERR_SCHEMA_INVALID', 'a JSON schema holds only finite numbers');
      chars += 8;
    } else if (Array.isArray(value)) {
      if (depth > maxDepth) throw tooLarge('maxDepth', `nested deeper than ${maxDepth}`);
      chars += 2 + value.length;
      if (chars > maxChars) throw tooLarge('maxChars', `more than ${maxChars} characters`);
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], depth: depth + 1 });
    } else if (isPlainObject(value)) {
      if (depth > maxDepth) throw tooLarge('maxDepth', `nested deeper than ${maxDepth}`);
      const keys = Object.keys(value);
      chars += 2;
      for (const key of keys) {
        chars += key.length + 4;
        const child = value[key];
        if (PROPERTY_MAPS.has(key) && isPlainObject(child)) {
          properties += Object.keys(child).length;
          if (properties > maxProperties) throw tooLarge('maxProperties', `more than ${maxProperties} named properties`);
        }
        stack.push({ value: child, depth: depth + 1 });
      }
    } else {
      throw new OutputFormatError('LH_ERR_SCHEMA_INVALID', `a JSON schema holds only JSON data, not ${describe(value)}`);
    }
    if (chars > maxChars) throw tooLarge('maxChars', `more than ${maxChars} characters`);
  }
}

/**
 * Check that `grammar` is a GBNF grammar within the bounds: a non-empty string, no longer than `maxChars`,
 * whose parentheses are balanced and nest no deeper than `maxDepth` (string literals, character classes and
 * comments are skipped). Whether it parses is the engine's to say.
 * @throws OutputFormatError `LH_ERR_GRAMMAR_TOO_LARGE` or `LH_ERR_GRAMMAR_INVALID`
 */
export function checkGbnfGrammar(grammar: unknown, limits?: OutputFormatLimits): asserts grammar is string {
  const { maxChars, maxDepth } = resolveLimits(limits);
  if (typeof grammar !== 'string' || grammar.trim() === '') {
    throw new OutputFormatError('LH_ERR_GRAMMAR_INVALID', 'a GBNF grammar must be a non-empty string');
  }
  if (grammar.length > maxChars) {
    throw new OutputFormatError('LH_ERR_GRAMMAR_TOO_LARGE', `the grammar is too large: more than ${maxChars} characters`, 'maxChars');
  }
  let depth = 0;
  for (let i = 0; i < grammar.length; i++) {
    const ch = grammar[i];
    if (ch === '"' || ch === '[') {
      // A literal or a class: skip to its unescaped end.
      const end = ch === '"' ? '"' : ']';
      for (i++; i < grammar.length && grammar[i] !== end; i++) if (grammar[i] === '\\') i++;
      if (i >= grammar.length) throw new OutputFormatError('LH_ERR_GRAMMAR_INVALID', `the grammar has an unterminated ${ch === '"' ? 'string literal' : 'character class'}`);
    } else if (ch === '#') {
      while (i < grammar.length && grammar[i] !== '\n' && grammar[i] !== '\r') i++;
    } else if (ch === '(') {
      depth++;
      if (depth > maxDepth) {
        throw new OutputFormatError('LH_ERR_GRAMMAR_TOO_LARGE', `the grammar is too large: parentheses nested deeper than ${maxDepth}`, 'maxDepth');
      }
    } else if (ch === ')') {
      depth--;
      if (depth < 0) throw new OutputFormatError('LH_ERR_GRAMMAR_INVALID', 'the grammar has an unbalanced ")"');
    }
  }
  if (depth !== 0) throw new OutputFormatError('LH_ERR_GRAMMAR_INVALID', 'the grammar has an unclosed "("');
}

/**
 * Check an output format as a whole: its type, and its schema or grammar within the bounds.
 * @throws OutputFormatError with any of its codes
 */
export function checkOutputFormat(format: unknown, limits?: OutputFormatLimits): asserts format is OutputFormat {
  if (!isPlainObject(format)) throw new OutputFormatError('LH_ERR_FORMAT_INVALID', 'an output format must be an object with a "type"');
  switch (format['type']) {
    case 'json_object':
      return;
    case 'json_schema':
      checkJsonSchema(format['schema'], limits);
      if (format['name'] !== undefined && typeof format['name'] !== 'string') {
        throw new OutputFormatError('LH_ERR_FORMAT_INVALID', 'a json_schema format\'s "name" must be a string');
      }
      return;
    case 'gbnf':
      checkGbnfGrammar(format['grammar'], limits);
      return;
    default:
      throw new OutputFormatError('LH_ERR_FORMAT_INVALID', 'an output format\'s "type" must be "json_object", "json_schema" or "gbnf"');
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') return 'an instance of a class';
  return `a ${typeof value}`;
}
