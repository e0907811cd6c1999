/**
 * Token counting for prompt assembly, cropping and usage: the one place that knows whether the loaded model
 * can tokenize. With a tokenizer the counts are exact; a binding without one (a remote engine with no
 * tokenize route, plugin API `LoadedModel.tokenize?`) gets an estimate, so that it still generates.
 *
 * The estimate: one token per 3 ASCII characters (rounded up), plus one token per non-ASCII character. It errs
 * high on purpose: English averages about 4 characters a token with BPE and SentencePiece vocabularies (code
 * and numbers fewer), CJK about one token a character and accented Latin less, so cropping by the estimate
 * keeps the prompt inside the context rather than past it, at the cost of a little unused room.
 */
import type { LoadedModel, TokenizeOptions } from '../../plugin-api/index.js';
import type { CpuAccount } from '../util/cpu-account.js';

/** Options of `TokenCounter.count`. */
export interface CountOptions {
  /** Charged what tokenizing costs the host beyond the call itself (a processor's CPU limit). */
  cpu?: CpuAccount;
  /**
   * Only whether the text reaches this many tokens matters (it cannot fit a context of that size): past it the
   * count may be any number at least `atMost`, and only the end of a long text is tokenized.
   */
  atMost?: number;
}

/** Counts tokens of a text and cuts a text to its last tokens. */
export interface TokenCounter {
  /** Whether counts come from the model's tokenizer (true) or are estimated (false). */
  readonly exact: boolean;
  /** Tokens of `text` (see `CountOptions.atMost` for long texts). */
  count(text: string, options?: CountOptions): Promise<number>;
  /**
   * The end of `text` that fits `maxTokens` tokens. An uncut text is returned as is (byte for byte); a cut
   * one is re-made from its last tokens (exact) or cut at a character (estimate). Only the end of a long text
   * is tokenized.
   */
  tail(text: string, maxTokens: number): Promise<{ text: string; tokens: number; cut: boolean }>;
}

/**
 * Where only the end of a long text matters (cropping a prompt, asking whether a text fits a context), the host
 * tokenizes a window from its end instead of the whole text: llama.cpp's tokenizer is superlinear on some inputs
 * (a MiB of digits takes minutes), so tokenizer time then depends on the context size, not on the prompt's. The
 * window starts at `WINDOW_CHARS_PER_TOKEN` characters per token wanted (texts average 3-5), plus
 * `WINDOW_SLACK_TOKENS` so that what the cut at its start changes (a split token, a space prefix) is dropped, and
 * doubles while it holds too few tokens (a text of long tokens).
 */
const WINDOW_CHARS_PER_TOKEN = 8;
const WINDOW_SLACK_TOKENS = 16;

/** Where a window of `chars` characters from the end of `text` starts, never inside a surrogate pair. */
function windowStart(text: string, chars: number): number {
  const start = Math.max(0, text.length - chars);
  const code = text.charCodeAt(start);
  return start > 0 && code >= 0xdc00 && code <= 0xdfff ? start - 1 : start;
}

/** The tokenizer part of a loaded model; both methods are optional since plugin API 1.1. */
export type ModelTokenizer = Pick<LoadedModel, 'tokenize' | 'detokenize'>;

/** Estimated tokens of `text` (see the module comment). */
export function estimateTokens(text: string): number {
  let ascii = 0;
  let other = 0;
  for (const char of text) {
    if (char.charCodeAt(0) < 0x80) ascii++;
    else other++;
  }
  return Math.ceil(ascii / 3) + other;
}

const ESTIMATING: TokenCounter = {
  exact: false,
  async count(text) {
    return estimateTokens(text);
  },
  async tail(text, maxTokens) {
    const total = estimateTokens(text);
    if (total <= maxTokens) return { text, tokens: total, cut: false };
    if (maxTokens <= 0) return { text: '', tokens: 0, cut: true };
    // Walk back from the end, code point by code point, while the estimate of the kept part fits.
    const chars = Array.from(text);
    let start = chars.length;
    let ascii = 0;
    let other = 0;
    while (start > 0) {
      const isAscii = chars[start - 1]!.charCodeAt(0) < 0x80;
      if (Math.ceil((ascii + (isAscii ? 1 : 0)) / 3) + other + (isAscii ? 0 : 1) > maxTokens) break;
      if (isAscii) ascii++;
      else other++;
      start--;
    }
    return { text: chars.slice(start).join(''), tokens: Math.ceil(ascii / 3) + other, cut: true };
  },
};

/** Texts at most this long are remembered with their count (conditionings repeat every turn). */
const CACHED_TEXT_MAX = 64 * 1024;
/** Counts remembered per model. */
const CACHE_ENTRIES = 256;

class ExactCounter implements TokenCounter {
  readonly exact = true;
  readonly #tokenize: (text: string, options?: TokenizeOptions) => Promise<number[]>;
  readonly #detokenize: (tokens: readonly number[]) => Promise<string>;
  /** Recent counts by text, least recently used first (a Map keeps insertion order). */
  readonly #recent = new Map<string, number>();

  constructor(tokenize: (text: string, options?: TokenizeOptions) => Promise<number[]>, detokenize: (tokens: readonly number[]) => Promise<string>) {
    this.#tokenize = tokenize;
    this.#detokenize = detokenize;
  }

  async count(text: string, options: CountOptions = {}): Promise<number> {
    if (text === '') return 0;
    const known = this.#recent.get(text);
    if (known !== undefined) {
      this.#recent.delete(text);
      this.#recent.set(text, known);
      return known;
    }
    const { cpu, atMost } = options;
    const tokenizeOptions = cpu ? { onCpuTime: (ns: number) => cpu.add(ns) } : undefined;
    if (atMost !== undefined) {
      // Enough tokens at the end already: the text does not fit, whatever its exact count (not remembered).
      for (let chars = (Math.max(0, atMost) + WINDOW_SLACK_TOKENS) * WINDOW_CHARS_PER_TOKEN; chars < text.length; chars *= 2) {
        const tokens = (await this.#tokenize(text.slice(windowStart(text, chars)), tokenizeOptions)).length;
        if (tokens >= atMost + WINDOW_SLACK_TOKENS) return tokens;
      }
    }
    const count = (await this.#tokenize(text, tokenizeOptions)).length;
    if (text.length <= CACHED_TEXT_MAX) {
      this.#recent.set(text, count);
      if (this.#recent.size > CACHE_ENTRIES) this.#recent.delete(this.#recent.keys().next().value!);
    }
    return count;
  }

  async tail(text: string, maxTokens: number): Promise<{ text: string; tokens: number; cut: boolean }> {
    if (text === '') return { text, tokens: 0, cut: false };
    // A window from the end that holds more than maxTokens (and the slack) is enough: its last tokens are the text's.
    for (let chars = (Math.max(0, maxTokens) + WINDOW_SLACK_TOKENS) * WINDOW_CHARS_PER_TOKEN; chars < text.length; chars *= 2) {
      const tokens = await this.#tokenize(text.slice(windowStart(text, chars)));
      if (tokens.length >= maxTokens + WINDOW_SLACK_TOKENS) {
        const kept = maxTokens > 0 ? tokens.slice(tokens.length - maxTokens) : [];
        return { text: kept.length > 0 ? await this.#detokenize(kept) : '', tokens: kept.length, cut: true };
      }
    }
    const tokens = await this.#tokenize(text);
    if (tokens.length <= maxTokens) return { text, tokens: tokens.length, cut: false };
    const kept = maxTokens > 0 ? tokens.slice(tokens.length - maxTokens) : [];
    return { text: kept.length > 0 ? await this.#detokenize(kept) : '', tokens: kept.length, cut: true };
  }
}

const counters = new WeakMap<object, TokenCounter>();

/**
 * The counter of a loaded model (one per model, so its small cache of recent counts is shared): exact when the
 * binding can tokenize and detokenize, the estimate otherwise.
 */
export function tokenCounterFor(model: ModelTokenizer): TokenCounter {
  const known = counters.get(model);
  if (known) return known;
  const { tokenize, detokenize } = model;
  const counter = tokenize && detokenize ? new ExactCounter(tokenize.bind(model), detokenize.bind(model)) : ESTIMATING;
  counters.set(model, counter);
  return counter;
}
