/**
 * Output formats as llama.cpp grammars: `json_object` is llama.cpp's JSON grammar (an object at the root),
 * `json_schema` a grammar node-llama-cpp makes from the schema (see json-schema-grammar.ts), `gbnf` the
 * caller's grammar. Formats are bounds-checked first (`checkOutputFormat`): llama.cpp's grammar parser
 * recurses on nesting and a deep grammar kills the process. Grammars are cached per model (most callers
 * reuse a few formats).
 */
import type { Llama, LlamaGrammar } from 'node-llama-cpp';
import { checkOutputFormat, OutputFormatError, type OutputFormat } from 'lollms-host/plugin-api';
import { BindingError, messageOf } from './errors.js';
import { toGrammarSchema } from './json-schema-grammar.js';

/** Grammars kept per model. */
const CACHE_SIZE = 32;

export class FormatGrammars {
  private readonly cache = new Map<string, Promise<LlamaGrammar>>();

  constructor(private readonly llama: Llama) {}

  /**
   * The grammar of `format`.
   * @throws BindingError a schema, grammar or format error (`LH_ERR_SCHEMA_INVALID`, `LH_ERR_GRAMMAR_INVALID`, `LH_ERR_FORMAT_INVALID`, ...)
   */
  async get(format: OutputFormat): Promise<LlamaGrammar> {
    try {
      checkOutputFormat(format);
    } catch (error) {
      if (error instanceof OutputFormatError) throw new BindingError(error.code, error.message, { cause: error });
      throw error;
    }
    const key = JSON.stringify(format);
    let grammar = this.cache.get(key);
    if (grammar) {
      // Most recently used last.
      this.cache.delete(key);
      this.cache.set(key, grammar);
      return grammar;
    }
    grammar = this.create(format);
    this.cache.set(key, grammar);
    grammar.catch(() => this.cache.delete(key));
    if (this.cache.size > CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    return grammar;
  }

  private async create(format: OutputFormat): Promise<LlamaGrammar> {
    switch (format.type) {
      case 'json_object':
        return this.llama.getGrammarFor('json');
      case 'json_schema':
        try {
          return await this.llama.createGrammarForJsonSchema(toGrammarSchema(format.schema) as never);
        } catch (error) {
          throw new BindingError('LH_ERR_SCHEMA_INVALID', `the JSON schema cannot be made into a grammar: ${messageOf(error)}`, { cause: error });
        }
      case 'gbnf':
        try {
          return await this.llama.createGrammar({ grammar: format.grammar });
        } catch (error) {
          throw new BindingError('LH_ERR_GRAMMAR_INVALID', `llama.cpp cannot parse the grammar: ${messageOf(error)} (see the host log for the position)`, { cause: error });
        }
    }
  }
}
