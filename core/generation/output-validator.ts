/**
 * Validation of what a model produced against what the caller asked for: the JSON of an output format
 * against its schema, and tool-call arguments against the tools' parameter schemas. It lives in the host, not
 * in bindings, because it must hold for every binding: a third-party binding or a remote engine may enforce a
 * schema partly or not at all, and llama.cpp's grammars enforce only a subset of JSON Schema (no `minimum`,
 * `pattern`, `uniqueItems`...). One validator for the generation service, the OpenAI API and a processor's
 * `ctx.generate({ schema })`.
 *
 * ajv (the standard JSON Schema validator, draft 2020-12) compiles each schema once; compiled schemas are kept
 * in a small LRU. `pattern` regexes run on RE2JS (linear time) instead of JavaScript's backtracking engine, so a
 * client's pattern cannot stall the host (ReDoS); patterns that need backtracking (lookaround, backreferences)
 * are refused as an invalid schema.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats, { type FormatsPluginOptions } from 'ajv-formats';
import { RE2JS } from 're2js';
import {
  checkJsonSchema,
  OutputFormatError,
  type JsonSchema,
  type OutputFormat,
  type OutputFormatLimits,
  type ToolCall,
  type ToolDefinition,
} from '../../plugin-api/index.js';
import { createError } from '../errors.js';

/** The output does not parse or does not follow the schema. */
export const OutputInvalid = createError('LH_ERR_OUTPUT_INVALID');
/** A schema that cannot be compiled (bad keyword values, unresolvable `$ref`, a pattern RE2 refuses). */
export const SchemaInvalid = createError('LH_ERR_SCHEMA_INVALID');
/** A schema over the bounds (see `OutputFormatLimits`). */
export const SchemaTooLarge = createError('LH_ERR_SCHEMA_TOO_LARGE');

/** Formats checked by regex (ajv-formats' fast mode); calendar formats are checked fully (real dates only). */
const FAST_FORMATS = ['duration', 'email', 'hostname', 'ipv4', 'ipv6', 'uri', 'uri-reference', 'uuid'] as const;
const FULL_FORMATS = ['date', 'time', 'date-time'] as const;
/** How much of ajv's error list a message quotes. */
const MAX_ERRORS_IN_MESSAGE = 3;

/** ajv's regex engine interface over RE2JS. ajv keys compiled patterns by `toString()`, so it must be the pattern's own. */
const re2Engine = Object.assign(
  (pattern: string, flags: string) => {
    const compiled = RE2JS.compile(pattern);
    return { test: (text: string) => compiled.test(text), toString: () => `/${pattern}/${flags}` };
  },
  { code: 'RE2JS.compile' },
);

/** Options of `OutputValidator`. */
export interface OutputValidatorOptions {
  /** Compiled schemas kept. Default 64. */
  cacheSize?: number;
  /** Bounds checked before a schema is compiled. Default `DEFAULT_OUTPUT_FORMAT_LIMITS`. */
  limits?: OutputFormatLimits;
}

export class OutputValidator {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, { schema: object | boolean; validate: ValidateFunction }>();
  private readonly cacheSize: number;
  private readonly limits: OutputFormatLimits | undefined;

  constructor(options: OutputValidatorOptions = {}) {
    this.cacheSize = Math.max(1, options.cacheSize ?? 64);
    this.limits = options.limits;
    // strict off: client schemas carry annotations and keywords of other drafts; unknown ones are ignored.
    this.ajv = new Ajv2020({ strict: false, allErrors: false, addUsedSchema: false, logger: false, code: { regExp: re2Engine } });
    // ajv-formats is CommonJS: its function is the default export's `default` under Node's ESM interop.
    const addFormats = ((ajvFormats as unknown as { default?: unknown }).default ?? ajvFormats) as (ajv: Ajv2020, options: FormatsPluginOptions) => void;
    addFormats(this.ajv, { mode: 'fast', formats: [...FAST_FORMATS] });
    addFormats(this.ajv, { mode: 'full', formats: [...FULL_FORMATS] });
  }

  /**
   * Parse `text`, the output of a generation made with `format`, and validate it: the parsed value for the
   * JSON formats, the text itself for `gbnf`.
   * @throws `LH_ERR_OUTPUT_INVALID` when it is not JSON, not an object (`json_object`) or not valid; the
   *   schema errors of `validate`
   */
  parse(format: OutputFormat, text: string): unknown {
    if (format.type === 'gbnf') return text;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw OutputInvalid(`the output is not valid JSON (${(error as Error).message}); it may have been cut by the token limit`, { cause: error });
    }
    if (format.type === 'json_object') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw OutputInvalid('the output is JSON but not an object');
      return value;
    }
    this.validate(format.schema, value, 'the output');
    return value;
  }

  /**
   * Compile `schema` now (cached), so that a schema the host would refuse after a generation is refused before it.
   * @throws `LH_ERR_SCHEMA_TOO_LARGE` / `LH_ERR_SCHEMA_INVALID`
   */
  prepare(schema: JsonSchema): void {
    this.compile(schema);
  }

  /**
   * Check every call against its tool's `parameters` (a call of a tool not offered is invalid too).
   * @throws `LH_ERR_OUTPUT_INVALID`, or the schema errors of `validate`
   */
  checkToolCalls(tools: readonly ToolDefinition[], calls: readonly ToolCall[]): void {
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const call of calls) {
      const tool = byName.get(call.name);
      if (!tool) throw OutputInvalid(`the model called a tool that was not offered: ${JSON.stringify(call.name.slice(0, 64))}`);
      this.validate(tool.parameters ?? { type: 'object' }, call.arguments, `the arguments of ${call.name}`);
    }
  }

  /**
   * Validate `value` against `schema`.
   * @throws `LH_ERR_OUTPUT_INVALID` when it does not follow the schema (the message quotes the first errors);
   *   `LH_ERR_SCHEMA_TOO_LARGE` / `LH_ERR_SCHEMA_INVALID` for the schema itself
   */
  validate(schema: JsonSchema, value: unknown, what = 'the value'): void {
    const validate = this.compile(schema);
    if (validate(value)) return;
    const errors = (validate.errors ?? []).slice(0, MAX_ERRORS_IN_MESSAGE).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
    throw OutputInvalid(`${what} does not follow the schema: ${errors.join('; ')}`);
  }

  private compile(schema: JsonSchema): ValidateFunction {
    try {
      checkJsonSchema(schema, this.limits);
    } catch (error) {
      if (error instanceof OutputFormatError) {
        throw (error.code === 'LH_ERR_SCHEMA_TOO_LARGE' ? SchemaTooLarge : SchemaInvalid)(error.message, { cause: error });
      }
      throw error;
    }
    const key = JSON.stringify(schema);
    const hit = this.compiled.get(key);
    if (hit) {
      this.compiled.delete(key);
      this.compiled.set(key, hit);
      return hit.validate;
    }
    // ajv keeps what it compiles, keyed by the schema object: a private copy, removed again on eviction.
    const own = JSON.parse(key) as object | boolean;
    let validate: ValidateFunction;
    try {
      validate = this.ajv.compile(own);
    } catch (error) {
      throw SchemaInvalid(`the JSON schema is invalid: ${(error as Error).message}`, { cause: error });
    }
    this.compiled.set(key, { schema: own, validate });
    if (this.compiled.size > this.cacheSize) {
      const [oldest, entry] = this.compiled.entries().next().value!;
      this.compiled.delete(oldest);
      this.ajv.removeSchema(entry.schema);
    }
    return validate;
  }
}
