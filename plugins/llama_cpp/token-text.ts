import type { LlamaModel, Token } from 'node-llama-cpp';

/** Tokens of context given to the detokenizer, so a piece keeps its leading space (node-llama-cpp uses 3). */
const DETOKENIZE_CONTEXT = 3;
/** An incomplete UTF-8 character has at most 3 bytes, so it lies within the last 3 tokens. */
const MAX_INCOMPLETE_TOKENS = 3;
const REPLACEMENT_CHAR = '\uFFFD';

/**
 * Turns generated tokens into text pieces that never split a UTF-8 character: a token whose text ends in
 * U+FFFD may hold the first bytes of a multi-byte character (byte-fallback and byte-level BPE vocabularies),
 * so it is held until the character completes. Each piece is detokenized with the few tokens before it as
 * context, so it keeps its leading space. Cost per token is constant.
 */
export class TokenTextStream {
  private pending: Token[] = [];
  private context: Token[];

  /**
   * @param model the model whose vocabulary decodes the tokens
   * @param preceding the tokens before the first one pushed (the prompt), for leading-space context
   */
  constructor(private readonly model: LlamaModel, preceding: readonly Token[]) {
    this.context = preceding.slice(-DETOKENIZE_CONTEXT);
  }

  /** Add one token; returns the text now complete (possibly empty). */
  push(token: Token): string {
    this.pending.push(token);
    const text = this.model.detokenize(this.pending, false, this.context);
    if (!text.endsWith(REPLACEMENT_CHAR)) return this.take(this.pending.length, text);
    if (this.pending.length <= MAX_INCOMPLETE_TOKENS) return '';
    // Still U+FFFD after 4 tokens: what comes before the last 3 tokens is final (invalid bytes stay U+FFFD).
    return this.take(this.pending.length - MAX_INCOMPLETE_TOKENS);
  }

  /** The text of tokens still held (bytes that never completed a character). */
  flush(): string {
    return this.pending.length === 0 ? '' : this.take(this.pending.length);
  }

  private take(count: number, known?: string): string {
    const done = count === this.pending.length ? this.pending : this.pending.slice(0, count);
    const text = known ?? this.model.detokenize(done, false, this.context);
    this.context = done.length >= DETOKENIZE_CONTEXT
      ? done.slice(-DETOKENIZE_CONTEXT)
      : [...this.context, ...done].slice(-DETOKENIZE_CONTEXT);
    this.pending = count === this.pending.length ? [] : this.pending.slice(count);
    return text;
  }
}
