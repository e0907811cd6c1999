/**
 * Tokenization that never blocks the host's event loop for long. Short texts (most calls) are tokenized on
 * the main thread, where it costs microseconds; texts over `MAIN_THREAD_TOKENIZE_LIMIT` go to a tokenizer
 * thread (tokenizer-worker.ts), which gives the very same tokens.
 *
 * `LlamaChat` tokenizes the rendered chat itself, synchronously, through `model.tokenizer`. So the model's
 * `tokenizer` is replaced by one that answers long texts from results prepared on the thread beforehand
 * (`prepare`), and falls back to the original for anything else.
 */
import type { LlamaModel, LlamaText, Token, Tokenizer } from 'node-llama-cpp';
import type { PluginLogger } from 'lollms-host/plugin-api';
import { TokenizerThread } from './tokenizer-worker.js';

/**
 * Texts up to this many UTF-16 code units are tokenized on the main thread. llama.cpp's worst case measured on
 * the test models (byte-fallback digits, quadratic) is about 7 ms at this size; ordinary text is far cheaper.
 */
export const MAIN_THREAD_TOKENIZE_LIMIT = 4096;

/** How many times the tokenizer thread is started before long texts fall back to the main thread. */
const THREAD_START_ATTEMPTS = 3;

/** Counters, for tests and diagnostics. */
export interface TokenizerStats {
  /** Long texts tokenized on the tokenizer thread. */
  offThread: number;
  /** Long texts tokenized on the main thread (the thread could not start, or `LlamaChat` asked for one not prepared). */
  longOnMainThread: number;
}

type TokenizeOptions = 'trimLeadingSpace' | undefined;

/** Options of `ModelTokenizer`. */
export interface ModelTokenizerOptions {
  /** The loaded model (its `tokenizer` is replaced). */
  model: LlamaModel;
  /** Its GGUF, loaded vocabulary-only on the thread. */
  modelPath: string;
  /** Where thread problems are reported. */
  logger?: PluginLogger;
}

/** A model's tokenizer, off the main thread for long texts. */
export class ModelTokenizer {
  readonly stats: TokenizerStats = { offThread: 0, longOnMainThread: 0 };
  private readonly model: LlamaModel;
  private readonly modelPath: string;
  private readonly logger: PluginLogger | undefined;
  private readonly original: Tokenizer;
  /** Long texts tokenized ahead for `LlamaChat`, with how many chats still need each. */
  private readonly prepared = new Map<string, { tokens: readonly Token[]; users: number }>();
  private thread: Promise<TokenizerThread | undefined> | undefined;
  private disposed = false;

  constructor(options: ModelTokenizerOptions) {
    this.model = options.model;
    this.modelPath = options.modelPath;
    this.logger = options.logger;
    this.original = options.model.tokenizer;
    const original = this.original;
    const answer = (text: string, specialTokens?: boolean | 'builtin', mode?: TokenizeOptions): Token[] => {
      if (typeof text === 'string' && text.length > MAIN_THREAD_TOKENIZE_LIMIT && specialTokens !== 'builtin') {
        const hit = this.prepared.get(preparedKey(text, specialTokens === true, mode === 'trimLeadingSpace'));
        if (hit) return hit.tokens.slice();
        this.stats.longOnMainThread++;
      }
      return (original as (t: string, s?: boolean | 'builtin', o?: TokenizeOptions) => Token[])(text, specialTokens, mode);
    };
    const tokenizer = Object.freeze(Object.assign(answer, {
      detokenize: original.detokenize,
      isSpecialToken: original.isSpecialToken,
      isEogToken: original.isEogToken,
    })) as unknown as Tokenizer;
    // node-llama-cpp reads `model.tokenizer` wherever it tokenizes a chat; same signature, same results.
    Object.defineProperty(options.model, 'tokenizer', { value: tokenizer, writable: false, configurable: true, enumerable: true });
  }

  /**
   * Tokens of `text`, as `LlamaModel.tokenize(text, specialTokens, trimLeadingSpace ? 'trimLeadingSpace' :
   * undefined)` gives them. Long texts are tokenized on the thread; the returned promise then settles on a
   * later turn of the event loop, and `onCpuTime` gets what the thread spent (plugin API `TokenizeOptions`).
   */
  async tokenize(text: string, specialTokens: boolean, trimLeadingSpace = false, onCpuTime?: (ns: number) => void): Promise<Token[]> {
    const mode = trimLeadingSpace ? 'trimLeadingSpace' : undefined;
    if (text.length <= MAIN_THREAD_TOKENIZE_LIMIT) return this.model.tokenize(text, specialTokens, mode);
    const thread = await this.getThread();
    if (thread) {
      try {
        const tokens = await thread.tokenize(text, specialTokens, trimLeadingSpace, onCpuTime);
        this.stats.offThread++;
        return tokens;
      } catch (error) {
        if (this.disposed) throw error;
        this.logger?.warn({ err: messageOf(error) }, 'the tokenizer thread failed; starting a new one');
        this.thread = undefined;
        void thread.dispose();
      }
    }
    this.stats.longOnMainThread++;
    // After an await: the caller did not see this work, so it is reported.
    const start = process.threadCpuUsage();
    try {
      return this.model.tokenize(text, specialTokens, mode);
    } finally {
      const used = process.threadCpuUsage(start);
      onCpuTime?.((used.user + used.system) * 1000);
    }
  }

  /**
   * Tokenize `text` (a rendered chat) the way `LlamaText.tokenize(model.tokenizer)` does, with its long pieces
   * tokenized on the thread, and keep those results for `LlamaChat`, which tokenizes the same text again
   * synchronously, until `release()`.
   */
  async prepare(text: LlamaText): Promise<{ tokens: Token[]; release: () => void }> {
    // Record the long pieces `LlamaText.tokenize` asks for; short ones are answered at once. A recorded piece
    // answers one placeholder token: the caller only tests whether tokens came before, and a long text has some.
    const wanted: Array<{ text: string; special: boolean; trim: boolean }> = [];
    const original = this.original as (t: string, s?: boolean | 'builtin', o?: TokenizeOptions) => Token[];
    const recorder = Object.assign((piece: string, specialTokens?: boolean | 'builtin', mode?: TokenizeOptions): Token[] => {
      if (typeof piece === 'string' && piece.length > MAIN_THREAD_TOKENIZE_LIMIT && specialTokens !== 'builtin') {
        wanted.push({ text: piece, special: specialTokens === true, trim: mode === 'trimLeadingSpace' });
        return [0 as Token];
      }
      return original(piece, specialTokens, mode);
    }, { detokenize: this.original.detokenize, isSpecialToken: this.original.isSpecialToken, isEogToken: this.original.isEogToken });
    text.tokenize(recorder as unknown as Tokenizer);

    const keys: string[] = [];
    const release = () => {
      for (const key of keys.splice(0)) {
        const entry = this.prepared.get(key);
        if (entry && --entry.users <= 0) this.prepared.delete(key);
      }
    };
    try {
      for (const piece of wanted) {
        const key = preparedKey(piece.text, piece.special, piece.trim);
        const known = this.prepared.get(key);
        if (known) known.users++;
        else this.prepared.set(key, { tokens: await this.tokenize(piece.text, piece.special, piece.trim), users: 1 });
        keys.push(key);
      }
      return { tokens: text.tokenize(this.model.tokenizer), release };
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Stop the thread. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const thread = await this.thread?.catch(() => undefined);
    this.thread = undefined;
    await thread?.dispose();
  }

  private getThread(): Promise<TokenizerThread | undefined> {
    if (this.disposed) return Promise.resolve(undefined);
    this.thread ??= (async () => {
      for (let attempt = 1; attempt <= THREAD_START_ATTEMPTS; attempt++) {
        const thread = new TokenizerThread({ modelPath: this.modelPath });
        try {
          await thread.ready;
          if (this.disposed) {
            await thread.dispose();
            return undefined;
          }
          return thread;
        } catch (error) {
          await thread.dispose();
          this.logger?.warn({ attempt, err: messageOf(error) }, 'the tokenizer thread did not start');
        }
      }
      this.logger?.error({}, 'the tokenizer thread cannot start: long texts are tokenized on the main thread, which blocks it');
      return undefined;
    })();
    return this.thread;
  }
}

function preparedKey(text: string, special: boolean, trim: boolean): string {
  return `${special ? 1 : 0}${trim ? 1 : 0}${text}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
