/**
 * A model loaded by the llama_cpp binding: one llama.cpp context with N sequences, one per concurrent
 * generation, each keeping the cache of one session (sequences.ts). `generate` drives
 * `LlamaContextSequence.evaluate` directly (rather than `LlamaCompletion`) so that stop strings, abort,
 * timings and streaming cost O(token) and nothing more; `chat` goes through node-llama-cpp's `LlamaChat`
 * (chat.ts). Long texts are tokenized off the main thread (tokenizer.ts).
 */
import { randomInt } from 'node:crypto';
import {
  LlamaGrammarEvaluationState,
  resolveChatWrapper,
  type ChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaGrammar,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import {
  ChatRequestError,
  checkChatRequest,
  OutputFormatError,
  StopStringFilter,
  type ChatMessage,
  type ChatOptions,
  type ChatResult,
  type GenerateOptions,
  type GenerateResult,
  type GenerationTimings,
  type LoadedModel,
  type PluginLogger,
  type StopReason,
  type TokenizeOptions,
} from 'lollms-host/plugin-api';
import { runChat, untilAborted } from './chat.js';
import { BindingError, messageOf } from './errors.js';
import { FormatGrammars } from './grammar.js';
import { SequencePool } from './sequences.js';
import { TokenTextStream } from './token-text.js';
import { ModelTokenizer, type TokenizerStats } from './tokenizer.js';
import { Utf8Guard } from './utf8-guard.js';

/** Sampling used for options a caller leaves out (llama.cpp's usual defaults). */
export const GENERATION_DEFAULTS = Object.freeze({
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  repeatPenalty: 1.1,
  repeatLastN: 64,
});

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
  /** The GGUF file (the tokenizer thread loads its vocabulary). */
  path: string;
  /** The engine the model was loaded with (grammars are made with it). */
  llama: Llama;
  /** The loaded model; disposed with this object. */
  model: LlamaModel;
  /** Its context; each of its sequences serves one generation at a time. Disposed with this object. */
  context: LlamaContext;
  /** Threads for the embedding context, created on first `embed`. */
  threads: number;
  /** Where the model reports problems (a failing tokenizer thread). */
  logger?: PluginLogger;
}

export class LlamaCppModel implements LoadedModel {
  readonly name: string;
  readonly contextSize: number;
  private readonly model: LlamaModel;
  private readonly context: LlamaContext;
  private readonly threads: number;
  private readonly sequences: SequencePool;
  private readonly tokenizer: ModelTokenizer;
  private readonly grammars: FormatGrammars;
  private readonly wrapper: ChatWrapper;
  /** Running generations and chats, with the switch `dispose` throws to end them. */
  private readonly active = new Map<Promise<unknown>, AbortController>();
  private readonly bos: Token | undefined;
  private guard: Utf8Guard | null | undefined;
  private embedding: Promise<LlamaEmbeddingContext> | undefined;
  private disposing = false;
  private disposed: Promise<void> | undefined;

  constructor(options: LlamaCppModelOptions) {
    this.name = options.name;
    this.model = options.model;
    this.context = options.context;
    this.threads = options.threads;
    this.contextSize = options.context.contextSize;
    this.sequences = new SequencePool(options.context);
    // Installs the model's off-thread-aware tokenizer: before anything (token biases, chat wrappers) keeps a reference to it.
    this.tokenizer = new ModelTokenizer({ model: options.model, modelPath: options.path, ...(options.logger ? { logger: options.logger } : {}) });
    this.grammars = new FormatGrammars(options.llama);
    // The GGUF's chat template when it has one, else the wrapper node-llama-cpp infers (Llama2ChatWrapper for
    // the test models, from their "<s>" BOS), else GeneralChatWrapper.
    this.wrapper = resolveChatWrapper(options.model);
    const tokens = options.model.tokens;
    this.bos = tokens.shouldPrependBosToken && tokens.bos !== null ? tokens.bos : undefined;
  }

  /** The name of the chat wrapper `chat` renders with (e.g. `Llama2Chat`, `JinjaTemplate`). */
  get chatWrapperName(): string {
    return this.wrapper.wrapperName;
  }

  /** Counters of long-text tokenization (tests, diagnostics). */
  get tokenizerStats(): Readonly<TokenizerStats> {
    return this.tokenizer.stats;
  }

  async generate(prompt: string, options: GenerateOptions = {}): Promise<GenerateResult> {
    this.ensureLive();
    const grammar = options.format ? await this.grammarOf(options) : undefined;
    return this.withSequence(options, zeroTimings, (sequence, halt) => this.run(sequence, prompt, options, halt, grammar));
  }

  async chat(messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<ChatResult> {
    this.ensureLive();
    try {
      checkChatRequest(messages, { tools: options.tools, toolChoice: options.toolChoice, format: options.format });
    } catch (error) {
      if (error instanceof ChatRequestError || error instanceof OutputFormatError) throw new BindingError(error.code, error.message, { cause: error });
      throw error;
    }
    const grammar = options.format ? await this.grammarOf(options) : undefined;
    return this.withSequence(options, () => ({ ...zeroTimings(), prompt_cached_count: 0 }), (sequence, halt) => runChat({
      name: this.name,
      model: this.model,
      contextSize: this.contextSize,
      wrapper: this.wrapper,
      tokenizer: this.tokenizer,
      grammar,
      guard: this.utf8Guard(),
      defaults: GENERATION_DEFAULTS,
    }, sequence, messages, options, halt));
  }

  async tokenize(text: string, options: TokenizeOptions = {}): Promise<number[]> {
    this.ensureLive();
    return (await this.tokenizer.tokenize(text, false, false, options.onCpuTime)) as number[];
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
      // Tokenized here (off the main thread when long) rather than by node-llama-cpp, synchronously.
      const result = await context.getEmbeddingFor(await this.tokenizer.tokenize(text, false));
      return Array.from(result.vector);
    } catch (error) {
      throw new BindingError('LH_ERR_EMBEDDING_UNSUPPORTED', `model ${this.name} could not embed the text: ${messageOf(error)}`, { cause: error });
    }
  }

  /** Stop running generations (they end with `abort` within one token), then free the context and model. */
  dispose(): Promise<void> {
    this.disposed ??= (async () => {
      this.disposing = true;
      this.sequences.close();
      for (const halt of this.active.values()) halt.abort();
      await Promise.allSettled([...this.active.keys()]);
      await this.tokenizer.dispose();
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

  /**
   * Lease a sequence for `options.session` and run `body` on it, with one switch (`halt`) for the caller's
   * signal and `dispose`. Resolves `abort` at once when the signal is already aborted, or aborts while waiting.
   */
  private async withSequence<R extends GenerateResult>(
    options: GenerateOptions,
    timings: () => GenerationTimings,
    body: (sequence: LlamaContextSequence, halt: AbortController) => Promise<R>,
  ): Promise<R | GenerateResult> {
    const aborted = (): GenerateResult => ({ text: '', stopReason: 'abort', timings: timings() });
    if (options.signal?.aborted) return aborted();
    const halt = new AbortController();
    const onAbort = () => halt.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const lease = await this.sequences.acquire(options.session, halt.signal);
      if (!lease) return aborted();
      const run = body(lease.sequence, halt);
      this.active.set(run, halt);
      try {
        return await run;
      } catch (error) {
        if (error instanceof BindingError) throw error;
        throw new BindingError('LH_ERR_GENERATE', `model ${this.name}: generation failed: ${messageOf(error)}`, { cause: error });
      } finally {
        this.active.delete(run);
        this.sequences.release(lease.sequence);
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async grammarOf(options: GenerateOptions): Promise<LlamaGrammar | undefined> {
    return options.format ? this.grammars.get(options.format) : undefined;
  }

  /** The UTF-8 guard of this model's vocabulary (built on first use), or undefined when it needs none. */
  private utf8Guard(): Utf8Guard | undefined {
    if (this.guard === undefined) this.guard = Utf8Guard.for(this.model) ?? null;
    return this.guard ?? undefined;
  }

  /** Prompt tokens: BOS when the model wants one, special tokens parsed (chat templates use them). */
  private async promptTokens(prompt: string, maxTokens: number, signal: AbortSignal): Promise<Token[] | undefined> {
    const body = await untilAborted(this.tokenizer.tokenize(prompt, true), signal);
    if (!body) return undefined;
    const tokens = this.bos === undefined ? body : [this.bos, ...body];
    // Keep room to generate: a prompt that would fill the context loses its oldest tokens (BOS kept).
    const room = Math.max(1, Math.min(Number.isFinite(maxTokens) ? maxTokens : this.contextSize, Math.floor(this.contextSize / 2)));
    const fit = this.contextSize - room;
    if (tokens.length <= fit) return tokens;
    const head = this.bos === undefined ? [] : [this.bos];
    return [...head, ...tokens.slice(tokens.length - (fit - head.length))];
  }

  private async run(
    sequence: LlamaContextSequence,
    prompt: string,
    options: GenerateOptions,
    halt: AbortController,
    grammar: LlamaGrammar | undefined,
  ): Promise<GenerateResult> {
    const model = this.model;
    const signal = halt.signal;
    const onChunk = options.onChunk;
    const started = process.hrtime.bigint();
    const requested = options.maxTokens !== undefined && options.maxTokens > 0 ? Math.floor(options.maxTokens) : Infinity;
    const promptTokens = await this.promptTokens(prompt, requested, signal);
    if (!promptTokens) return { text: '', stopReason: 'abort', timings: zeroTimings() };
    // Without a limit, stop when the context is full rather than shifting it forever.
    const maxTokens = Number.isFinite(requested) ? requested : Math.max(1, this.contextSize - promptTokens.length);

    // Reuse the cached prefix of the last generation on this sequence (a chat resends the whole discussion;
    // the sequence pool cleared the cache if it was another session's); at least one token is always
    // evaluated so that there are logits to sample from.
    await sequence.adaptStateToTokens(promptTokens.slice(0, -1), false);
    const cached = sequence.nextTokenIndex;
    const toEvaluate = promptTokens.slice(cached);

    const temperature = options.temperature ?? GENERATION_DEFAULTS.temperature;
    const penalty = options.repeatPenalty ?? GENERATION_DEFAULTS.repeatPenalty;
    const lastN = Math.max(0, Math.floor(options.repeatLastN ?? GENERATION_DEFAULTS.repeatLastN));
    const seed = options.seed === undefined || options.seed < 0 ? randomInt(0x7fffffff) : Math.floor(options.seed);
    // The repeat penalty looks at the last N tokens of prompt and output, as llama.cpp does.
    let recent: Token[] = lastN > 0 ? promptTokens.slice(-lastN) : [];

    // With a grammar, the guard keeps byte tokens from forming ill-formed UTF-8; it needs the last tokens.
    const guard = grammar ? this.utf8Guard() : undefined;
    let tail: Token[] = guard ? promptTokens.slice(-4) : [];

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
      ...(grammar ? { grammarEvaluationState: new LlamaGrammarEvaluationState({ model, grammar }) } : {}),
      ...(guard ? { tokenBias: () => guard.biasAfter(tail) } : {}),
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
      if (guard) {
        tail.push(token);
        if (tail.length > 16) tail = tail.slice(-4);
      }
      if (lastN > 0) {
        recent.push(token);
        if (recent.length > 4 * lastN) recent = recent.slice(-lastN);
      }
      const text = pieces.push(token);
      if (text !== '' && push(text)) {
        stopReason = 'stop';
        break;
      }
      if (signal.aborted) {
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
        prompt_cached_count: cached,
      },
    };
  }
}
