/**
 * A model loaded by the llama_cpp binding: one llama.cpp context with N sequences, one per concurrent
 * generation. The generation loop drives `LlamaContextSequence.evaluate` directly (rather than
 * `LlamaCompletion`) so that stop strings, abort, timings and streaming cost O(token) and nothing more.
 */
import { randomInt } from 'node:crypto';
import type { LlamaContext, LlamaContextSequence, LlamaEmbeddingContext, LlamaModel, Token } from 'node-llama-cpp';
import {
  StopStringFilter,
  type GenerateOptions,
  type GenerateResult,
  type GenerationTimings,
  type LoadedModel,
  type StopReason,
} from 'lollms-host/plugin-api';
import { BindingError, messageOf } from './errors.js';
import { TokenTextStream } from './token-text.js';

/** Sampling used for options a caller leaves out (llama.cpp's usual defaults). */
export const GENERATION_DEFAULTS = Object.freeze({
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  repeatPenalty: 1.1,
  repeatLastN: 64,
});

interface Waiter {
  resolve(sequence: LlamaContextSequence | undefined): void;
}

const zeroTimings = (): GenerationTimings => ({
  prompt_eval_count: 0,
  prompt_eval_duration: 0,
  eval_count: 0,
  eval_duration: 0,
});

/** Options of `LlamaCppModel`. */
export interface LlamaCppModelOptions {
  /** The name the model was loaded under. */
  name: string;
  /** The loaded model; disposed with this object. */
  model: LlamaModel;
  /** Its context; each of its sequences serves one generation at a time. Disposed with this object. */
  context: LlamaContext;
  /** Threads for the embedding context, created on first `embed`. */
  threads: number;
}

export class LlamaCppModel implements LoadedModel {
  readonly name: string;
  readonly contextSize: number;
  private readonly model: LlamaModel;
  private readonly context: LlamaContext;
  private readonly threads: number;
  private readonly free: LlamaContextSequence[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly active = new Set<Promise<unknown>>();
  private readonly bos: Token | undefined;
  private embedding: Promise<LlamaEmbeddingContext> | undefined;
  private disposing = false;
  private disposed: Promise<void> | undefined;

  constructor(options: LlamaCppModelOptions) {
    this.name = options.name;
    this.model = options.model;
    this.context = options.context;
    this.threads = options.threads;
    this.contextSize = options.context.contextSize;
    // Free sequences are a stack: the last one used, whose cache likely holds the same discussion, goes first.
    for (let i = 0; i < options.context.totalSequences; i++) this.free.push(options.context.getSequence());
    const tokens = options.model.tokens;
    this.bos = tokens.shouldPrependBosToken && tokens.bos !== null ? tokens.bos : undefined;
  }

  async generate(prompt: string, options: GenerateOptions = {}): Promise<GenerateResult> {
    this.ensureLive();
    if (options.signal?.aborted) return { text: '', stopReason: 'abort', timings: zeroTimings() };
    const sequence = await this.acquire(options.signal);
    if (!sequence) return { text: '', stopReason: 'abort', timings: zeroTimings() };
    const run = this.run(sequence, prompt, options);
    this.active.add(run);
    try {
      return await run;
    } catch (error) {
      if (error instanceof BindingError) throw error;
      throw new BindingError('LH_ERR_GENERATE', `model ${this.name}: generation failed: ${messageOf(error)}`, { cause: error });
    } finally {
      this.active.delete(run);
      this.release(sequence);
    }
  }

  async tokenize(text: string): Promise<number[]> {
    this.ensureLive();
    return this.model.tokenize(text, false) as number[];
  }

  async detokenize(tokens: readonly number[]): Promise<string> {
    this.ensureLive();
    // llama.cpp aborts the whole process (std::out_of_range) on an id outside the vocabulary: refuse it here.
    const vocab = this.vocabularySize();
    const bad = tokens.find((t) => !Number.isInteger(t) || t < 0 || t >= vocab);
    if (bad !== undefined) throw new BindingError('LH_ERR_BAD_TOKEN', `model ${this.name}: token ${bad} is not in the vocabulary (0..${vocab - 1})`);
    return this.model.detokenize(tokens as readonly Token[]);
  }

  #vocabularySize: number | undefined;

  /** Tokens in the model's vocabulary, from its GGUF metadata (read once). */
  private vocabularySize(): number {
    if (this.#vocabularySize === undefined) {
      const tokenizer = (this.model.fileInfo.metadata as { tokenizer?: { ggml?: { tokens?: readonly unknown[] } } }).tokenizer;
      this.#vocabularySize = tokenizer?.ggml?.tokens?.length ?? 0;
    }
    return this.#vocabularySize;
  }

  async embed(text: string): Promise<number[]> {
    this.ensureLive();
    if (!this.embedding) {
      this.embedding = this.model.createEmbeddingContext({ contextSize: this.contextSize, threads: this.threads });
      this.embedding.catch(() => { this.embedding = undefined; });
    }
    let context: LlamaEmbeddingContext;
    try {
      context = await this.embedding;
    } catch (error) {
      throw new BindingError('LH_ERR_EMBEDDING_UNSUPPORTED', `model ${this.name} cannot compute embeddings: ${messageOf(error)}`, { cause: error });
    }
    try {
      const result = await context.getEmbeddingFor(text);
      return Array.from(result.vector);
    } catch (error) {
      throw new BindingError('LH_ERR_EMBEDDING_UNSUPPORTED', `model ${this.name} could not embed the text: ${messageOf(error)}`, { cause: error });
    }
  }

  /** Stop running generations (they end with `abort` within one token), then free the context and model. */
  dispose(): Promise<void> {
    this.disposed ??= (async () => {
      this.disposing = true;
      for (const waiter of this.waiters.splice(0)) waiter.resolve(undefined);
      await Promise.allSettled([...this.active]);
      const embedding = this.embedding;
      this.embedding = undefined;
      if (embedding) await embedding.then((e) => e.dispose(), () => {});
      await this.context.dispose();
      await this.model.dispose();
    })();
    return this.disposed;
  }

  private ensureLive(): void {
    if (this.disposing) throw new BindingError('LH_ERR_MODEL_DISPOSED', `model ${this.name} has been unloaded`);
  }

  /** A free sequence, waiting in FIFO order for one; `undefined` when aborted or disposed while waiting. */
  private acquire(signal?: AbortSignal): Promise<LlamaContextSequence | undefined> {
    const sequence = this.free.pop();
    if (sequence) return Promise.resolve(sequence);
    return new Promise((resolve) => {
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter);
        if (at !== -1) this.waiters.splice(at, 1);
        resolve(undefined);
      };
      const waiter: Waiter = {
        resolve: (s) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(s);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private release(sequence: LlamaContextSequence): void {
    const waiter = this.waiters.shift();
    if (waiter && !this.disposing) waiter.resolve(sequence);
    else this.free.push(sequence);
  }

  /** Prompt tokens: BOS when the model wants one, special tokens parsed (chat templates use them). */
  private promptTokens(prompt: string, maxTokens: number): Token[] {
    const body = this.model.tokenize(prompt, true);
    const tokens = this.bos === undefined ? body : [this.bos, ...body];
    // Keep room to generate: a prompt that would fill the context loses its oldest tokens (BOS kept).
    const room = Math.max(1, Math.min(Number.isFinite(maxTokens) ? maxTokens : this.contextSize, Math.floor(this.contextSize / 2)));
    const fit = this.contextSize - room;
    if (tokens.length <= fit) return tokens;
    const head = this.bos === undefined ? [] : [this.bos];
    return [...head, ...tokens.slice(tokens.length - (fit - head.length))];
  }

  private async run(sequence: LlamaContextSequence, prompt: string, options: GenerateOptions): Promise<GenerateResult> {
    const model = this.model;
    const signal = options.signal;
    const onChunk = options.onChunk;
    const started = process.hrtime.bigint();
    const requested = options.maxTokens !== undefined && options.maxTokens > 0 ? Math.floor(options.maxTokens) : Infinity;
    const promptTokens = this.promptTokens(prompt, requested);
    // Without a limit, stop when the context is full rather than shifting it forever.
    const maxTokens = Number.isFinite(requested) ? requested : Math.max(1, this.contextSize - promptTokens.length);

    // Reuse the cached prefix of the last generation on this sequence (a chat resends the whole discussion);
    // at least one token is always evaluated so that there are logits to sample from.
    await sequence.adaptStateToTokens(promptTokens.slice(0, -1), false);
    const toEvaluate = promptTokens.slice(sequence.nextTokenIndex);

    const temperature = options.temperature ?? GENERATION_DEFAULTS.temperature;
    const penalty = options.repeatPenalty ?? GENERATION_DEFAULTS.repeatPenalty;
    const lastN = Math.max(0, Math.floor(options.repeatLastN ?? GENERATION_DEFAULTS.repeatLastN));
    const seed = options.seed === undefined || options.seed < 0 ? randomInt(0x7fffffff) : Math.floor(options.seed);
    // The repeat penalty looks at the last N tokens of prompt and output, as llama.cpp does.
    let recent: Token[] = lastN > 0 ? promptTokens.slice(-lastN) : [];

    const chunks: string[] = [];
    const filter = new StopStringFilter(options.stop ?? []);
    const filtering = filter.active;
    /** Emit through the stop filter; true when a stop string was hit. */
    const push = (text: string): boolean => {
      let out = text;
      let stopped = false;
      if (filtering) ({ emit: out, stopped } = filter.push(text));
      if (out !== '') {
        chunks.push(out);
        onChunk?.(out);
      }
      return stopped;
    };

    const iterator = sequence.evaluate(toEvaluate, {
      temperature,
      topK: options.topK ?? GENERATION_DEFAULTS.topK,
      topP: options.topP ?? GENERATION_DEFAULTS.topP,
      seed,
      ...(penalty !== 1 && lastN > 0
        ? {
            repeatPenalty: {
              punishTokens: () => (recent.length > lastN ? recent.slice(-lastN) : recent),
              maxPunishTokens: lastN,
              penalty,
            },
          }
        : {}),
      yieldEogToken: true,
    });

    let firstTokenAt: bigint | undefined;
    let count = 0;
    let stopReason: StopReason = 'eos';
    const pieces = new TokenTextStream(model, promptTokens);

    for await (const token of iterator) {
      firstTokenAt ??= process.hrtime.bigint();
      if (model.isEogToken(token)) {
        stopReason = 'eos';
        break;
      }
      count++;
      if (lastN > 0) {
        recent.push(token);
        if (recent.length > 4 * lastN) recent = recent.slice(-lastN);
      }
      const text = pieces.push(token);
      if (text !== '' && push(text)) {
        stopReason = 'stop';
        break;
      }
      if (signal?.aborted || this.disposing) {
        stopReason = 'abort';
        break;
      }
      if (count >= maxTokens) {
        stopReason = 'maxTokens';
        break;
      }
    }
    const ended = process.hrtime.bigint();

    // Whatever is still held is decided now: bytes that never completed a character, then text that
    // turned out not to be a stop string.
    if (stopReason !== 'stop') {
      const text = pieces.flush();
      if (text !== '' && push(text)) stopReason = 'stop';
    }
    if (stopReason !== 'stop' && filtering) {
      const rest = filter.flush();
      if (rest !== '') {
        chunks.push(rest);
        onChunk?.(rest);
      }
    }

    const firstAt = firstTokenAt ?? ended;
    return {
      text: chunks.join(''),
      stopReason,
      timings: {
        prompt_eval_count: promptTokens.length,
        prompt_eval_duration: Number(firstAt - started),
        eval_count: count,
        eval_duration: Number(ended - firstAt),
      },
    };
  }
}
