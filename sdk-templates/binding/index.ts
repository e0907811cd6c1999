/**
 * The {{name}} binding of lollms-host, made by `lollms-host new binding`: GGUF models run on the host's one
 * shared llama.cpp engine (node-llama-cpp). It is a complete, working example of the binding contract: keep
 * what you need, replace the rest (e.g. call a remote API in `generate`). See docs/writing-a-binding.md.
 *
 * A binding runs in the host's process (it is trusted, unlike a personality's processor). It may import Node
 * builtins, `lollms-host/plugin-api`, `node-llama-cpp` (resolved to the host's own copy, so every binding
 * shares one engine) and packages installed in this folder's own node_modules/.
 *
 * It uses plugin API 1.1 (`chat`, `format`, `session`), hence `host_api: "^1.1.0"` in its card. A binding
 * without them may keep `"^1.0.0"`: remove `chat` and the host chats through `generate` with its fallback
 * template.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import {
  LlamaChat,
  LlamaCompletion,
  type ChatHistoryItem,
  type ChatModelFunctionCall,
  type ChatModelFunctions,
  type ChatModelResponse,
  type GbnfJsonSchema,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaGrammar,
  type LlamaModel,
} from 'node-llama-cpp';
import {
  checkChatRequest,
  checkOutputFormat,
  defineBinding,
  StopStringFilter,
  type BindingContext,
  type ChatMessage,
  type ChatOptions,
  type ChatResult,
  type GenerateOptions,
  type GenerateResult,
  type LoadedModel,
  type LoadModelRequest,
  type ModelFile,
  type OutputFormat,
  type StopReason,
  type ToolCall,
} from 'lollms-host/plugin-api';
import { randomUUID } from 'node:crypto';

const GGUF = '.gguf';
const REFERENCE = '.reference';

/**
 * An error with one of the host's codes (`LH_ERR_MODEL_NOT_FOUND`, `LH_ERR_MODEL_LOAD`, ...). A binding cannot
 * import the host's core, so it throws plain errors; the host keeps a `code` that starts with `LH_ERR_`.
 */
function codedError(code: string, message: string, cause?: unknown): Error {
  return Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { code });
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The absolute path a `.reference` file points to (its first non-empty line), or undefined. */
async function readReference(file: string): Promise<string | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  const target = text?.split(/\r?\n/).map((line) => line.trim()).find((line) => line !== '');
  return target !== undefined && isAbsolute(target) ? target : undefined;
}

/** The models in `<models_path>/<binding>/`: `*.gguf` files and `<name>.reference` pointers. */
async function listModels(ctx: BindingContext): Promise<ModelFile[]> {
  const names = await readdir(ctx.modelsDir).catch(() => [] as string[]);
  const models: ModelFile[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.')) continue; // temp files of installs in progress
    const path = join(ctx.modelsDir, name);
    if (name.endsWith(GGUF)) {
      const size = await stat(path).then((s) => (s.isFile() ? s.size : -1), () => -1);
      if (size >= 0) models.push({ name, path, kind: 'file', size });
    } else if (name.endsWith(REFERENCE)) {
      const target = await readReference(path);
      if (target === undefined) {
        ctx.logger.warn({ file: path }, 'ignoring a .reference file that does not hold an absolute path');
        continue;
      }
      const size = await stat(target).then((s) => s.size, () => 0);
      models.push({ name, path: target, kind: 'reference', size });
    }
  }
  return models;
}

/** The GGUF file behind a model name; only names that `listModels` lists are accepted. */
async function resolveModel(ctx: BindingContext, name: string): Promise<string> {
  if (basename(name) !== name || name.includes('\\')) {
    throw codedError('LH_ERR_MODEL_NOT_FOUND', `model "${name}" is not a file name in ${ctx.modelsDir}`);
  }
  const model = (await listModels(ctx)).find((m) => m.name === name);
  if (!model) throw codedError('LH_ERR_MODEL_NOT_FOUND', `model ${name} not found in ${ctx.modelsDir}`);
  return model.path;
}

/** `gpu_layers` of the settings (a count, `auto` or `max`); 0 when the host runs on the CPU. */
function gpuLayers(ctx: BindingContext): number | 'auto' | 'max' {
  if (!ctx.gpu) return 0;
  const value = ctx.settings['gpu_layers'];
  if (value === 'auto' || value === 'max') return value;
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 'auto';
}

async function loadModel(ctx: BindingContext, request: LoadModelRequest): Promise<LoadedModel> {
  const { signal } = request;
  const name = request.model;
  const path = await resolveModel(ctx, name);
  const failed = (what: string, error: unknown) =>
    signal?.aborted
      ? codedError('LH_ERR_CANCELLED', `loading model ${name} was cancelled`, error)
      : codedError('LH_ERR_MODEL_LOAD', `model ${name}: ${what}: ${messageOf(error)}`, error);
  request.onProgress?.(0);

  const llama = await ctx.getLlama();
  let model: LlamaModel;
  try {
    model = await llama.loadModel({
      modelPath: path,
      gpuLayers: gpuLayers(ctx),
      // The weights are the first 90 % of the progress, the context the rest.
      onLoadProgress: (progress) => request.onProgress?.(progress * 0.9),
      ...(signal ? { loadSignal: signal } : {}),
    });
  } catch (error) {
    throw failed('cannot load the file', error);
  }
  let context: LlamaContext;
  try {
    context = await model.createContext({
      contextSize: request.contextSize,
      // One sequence per generation that may run at once (the host's `parallel`).
      sequences: Math.max(1, request.sequences),
      threads: Math.max(1, request.threads),
      ...(signal ? { createSignal: signal } : {}),
    });
  } catch (error) {
    await model.dispose();
    throw failed(`cannot create a context of ${request.contextSize} tokens`, error);
  }
  const temperature = ctx.settings['default_temperature'];
  const loaded = new GgufModel(name, model, context, {
    threads: Math.max(1, request.threads),
    temperature: typeof temperature === 'number' ? temperature : 0.8,
  });
  request.onProgress?.(1);
  ctx.logger.info({ model: name, contextSize: loaded.contextSize }, 'model loaded');
  return loaded;
}

/** A loaded GGUF model: one llama.cpp context whose sequences serve one generation each. */
class GgufModel implements LoadedModel {
  readonly contextSize: number;
  /** Sequences not in use, and generations waiting for one. */
  private readonly free: LlamaContextSequence[] = [];
  private readonly waiting: Array<(sequence: LlamaContextSequence | undefined) => void> = [];
  /** The session whose prompt is in each sequence's cache (undefined: nobody's). */
  private readonly owners = new Map<LlamaContextSequence, string | undefined>();
  /** The running generations and their stop switches, which `dispose` throws. */
  private readonly running = new Map<AbortController, Promise<unknown>>();
  private embedding: Promise<LlamaEmbeddingContext> | undefined;
  private disposed: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly defaults: { threads: number; temperature: number },
  ) {
    this.contextSize = context.contextSize;
    for (let i = 0; i < context.totalSequences; i++) this.free.push(context.getSequence());
  }

  /**
   * The contract: the pieces given to `onChunk` join into `text`; a stop string is never emitted and text that
   * may start one is held back; aborting `signal` ends the generation within one token (`stopReason: 'abort'`);
   * timings are in nanoseconds, with Ollama's names; a sequence's cache serves only the session that filled it.
   */
  async generate(prompt: string, options: GenerateOptions = {}): Promise<GenerateResult> {
    this.ensureLive();
    // One switch for everything that ends the generation early: the caller's signal, a stop string, dispose().
    const halt = new AbortController();
    const run = this.run(prompt, options, halt);
    this.running.set(halt, run);
    try {
      return await run;
    } finally {
      this.running.delete(halt);
    }
  }

  private async run(prompt: string, options: GenerateOptions, halt: AbortController): Promise<GenerateResult> {
    const started = process.hrtime.bigint();
    const onAbort = () => halt.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) halt.abort();
    const sequence = await this.acquire(options.session, halt.signal);
    try {
      const grammar = options.format ? await this.grammarFor(options.format) : undefined;
      const pieces: string[] = [];
      const emit = (text: string) => {
        if (text === '') return;
        pieces.push(text);
        options.onChunk?.(text);
      };
      const filter = new StopStringFilter(options.stop ?? []);
      let hitStop = false;
      let firstTokenAt: bigint | undefined;
      let promptTokens = 0;
      let generated = 0;
      let reason: StopReason = 'abort';

      if (sequence && !halt.signal.aborted) {
        promptTokens = this.model.tokenize(prompt).length;
        const meter = sequence.tokenMeter.getState();
        const completion = new LlamaCompletion({ contextSequence: sequence });
        try {
          const penalty = options.repeatPenalty ?? 1.1;
          const { metadata } = await completion.generateCompletionWithMeta(prompt, {
            maxTokens: options.maxTokens !== undefined && options.maxTokens > 0 ? options.maxTokens : this.contextSize,
            temperature: options.temperature ?? this.defaults.temperature,
            topK: options.topK ?? 40,
            topP: options.topP ?? 0.95,
            ...(options.seed !== undefined && options.seed >= 0 ? { seed: options.seed } : {}),
            repeatPenalty: penalty === 1 ? false : { penalty, lastTokens: options.repeatLastN ?? 64 },
            ...(grammar ? { grammar } : {}),
            signal: halt.signal,
            stopOnAbortSignal: true,
            onToken: () => {
              firstTokenAt ??= process.hrtime.bigint();
            },
            onTextChunk: (text) => {
              const { emit: safe, stopped } = filter.push(text);
              emit(safe);
              if (stopped && !hitStop) {
                hitStop = true;
                halt.abort(); // stop generating: nothing after the stop string is wanted
              }
            },
          });
          reason = hitStop || metadata.stopReason === 'customStopTrigger' ? 'stop'
            : metadata.stopReason === 'maxTokens' ? 'maxTokens'
            : metadata.stopReason === 'abort' ? 'abort'
            : 'eos';
        } catch (error) {
          // Aborted before the first token: node-llama-cpp throws instead of returning.
          if (!halt.signal.aborted) {
            throw codedError('LH_ERR_GENERATE', `model ${this.name}: generation failed: ${messageOf(error)}`, error);
          }
          reason = hitStop ? 'stop' : 'abort';
        } finally {
          completion.dispose();
          generated = sequence.tokenMeter.diff(meter).usedOutputTokens;
        }
        // Without a stop string, release the text held back in case it was the start of one.
        if (!hitStop) emit(filter.flush());
      }
      const ended = process.hrtime.bigint();
      const firstAt = firstTokenAt ?? ended;
      return {
        text: pieces.join(''),
        stopReason: reason,
        timings: {
          // All the prompt's tokens, although llama.cpp evaluates only those not already in the sequence's cache.
          prompt_eval_count: promptTokens,
          prompt_eval_duration: Number(firstAt - started),
          eval_count: generated,
          eval_duration: Number(ended - firstAt),
        },
      };
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      if (sequence) this.release(sequence);
    }
  }

  /**
   * Optional (plugin API 1.1): a chat with the model's own template, through node-llama-cpp's LlamaChat and the
   * chat wrapper it resolves (the GGUF's Jinja template, or one inferred from the model). Tools the model may
   * call (`toolChoice` auto) use the wrapper's function calling; forcing a call (`required`, `{ name }`) is
   * left out of this template: plugins/llama_cpp in lollms-host shows how.
   */
  async chat(messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<ChatResult> {
    this.ensureLive();
    // Malformed requests and oversized schemas: coded errors (LH_ERR_BAD_REQUEST, LH_ERR_SCHEMA_TOO_LARGE...).
    checkChatRequest(messages, { tools: options.tools, toolChoice: options.toolChoice, format: options.format });
    const choice = options.toolChoice ?? 'auto';
    const tools = choice === 'none' ? [] : (options.tools ?? []);
    if (tools.length > 0 && choice !== 'auto') throw codedError('LH_ERR_BAD_REQUEST', `${this.name}: this binding cannot force a tool call`);
    if (tools.length > 0 && options.format) throw codedError('LH_ERR_BAD_REQUEST', `${this.name}: an output format cannot be combined with tools`);
    const functions: ChatModelFunctions = Object.fromEntries(tools.map((t) => [t.name, {
      ...(t.description !== undefined ? { description: t.description } : {}),
      params: (t.parameters ?? { type: 'object', properties: {} }) as GbnfJsonSchema,
    }]));

    const started = process.hrtime.bigint();
    const halt = new AbortController();
    const onAbort = () => halt.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) halt.abort();
    const run = (async (): Promise<ChatResult> => {
      const sequence = await this.acquire(options.session, halt.signal);
      if (!sequence) return { text: '', stopReason: 'abort', timings: { prompt_eval_count: 0, prompt_eval_duration: 0, eval_count: 0, eval_duration: 0 } };
      const chat = new LlamaChat({ contextSequence: sequence });
      const meter = sequence.tokenMeter.getState();
      const filter = new StopStringFilter(options.stop ?? []);
      const pieces: string[] = [];
      let hitStop = false;
      let firstTokenAt: bigint | undefined;
      let stopReason: StopReason = 'abort';
      let toolCalls: ToolCall[] | undefined;
      try {
        const grammar = options.format ? await this.grammarFor(options.format) : undefined;
        const penalty = options.repeatPenalty ?? 1.1;
        const common = {
          ...(options.maxTokens !== undefined && options.maxTokens > 0 ? { maxTokens: options.maxTokens } : {}),
          temperature: options.temperature ?? this.defaults.temperature,
          topK: options.topK ?? 40,
          topP: options.topP ?? 0.95,
          ...(options.seed !== undefined && options.seed >= 0 ? { seed: options.seed } : {}),
          repeatPenalty: penalty === 1 ? (false as const) : { penalty, lastTokens: options.repeatLastN ?? 64 },
          signal: halt.signal,
          stopOnAbortSignal: true,
          onToken: () => { firstTokenAt ??= process.hrtime.bigint(); },
          onTextChunk: (text: string) => {
            if (hitStop) return;
            const { emit, stopped } = filter.push(text);
            if (emit !== '') {
              pieces.push(emit);
              options.onChunk?.(emit);
            }
            if (stopped) {
              hitStop = true;
              halt.abort();
            }
          },
        };
        const response = tools.length > 0
          ? await chat.generateResponse(toChatHistory(messages), { ...common, functions })
          : await chat.generateResponse(toChatHistory(messages), { ...common, ...(grammar ? { grammar } : {}) });
        const reason = response.metadata.stopReason;
        stopReason = hitStop ? 'stop' : reason === 'maxTokens' ? 'maxTokens' : reason === 'abort' ? 'abort' : reason === 'functionCalls' ? 'toolCalls' : 'eos';
        if (response.functionCalls && response.functionCalls.length > 0) {
          toolCalls = response.functionCalls.map((call) => ({ id: `call_${randomUUID().replaceAll('-', '')}`, name: call.functionName, arguments: call.params ?? {} }));
          stopReason = 'toolCalls';
        }
      } catch (error) {
        if (!halt.signal.aborted) throw codedError('LH_ERR_GENERATE', `model ${this.name}: chat failed: ${messageOf(error)}`, error);
        stopReason = hitStop ? 'stop' : 'abort';
      } finally {
        chat.dispose({ disposeSequence: false });
        this.release(sequence);
      }
      if (!hitStop) {
        const rest = filter.flush();
        if (rest !== '') {
          pieces.push(rest);
          options.onChunk?.(rest);
        }
      }
      const ended = process.hrtime.bigint();
      const firstAt = firstTokenAt ?? ended;
      const usage = sequence.tokenMeter.diff(meter);
      return {
        text: pieces.join(''),
        stopReason,
        ...(toolCalls ? { toolCalls } : {}),
        timings: {
          // What was evaluated (the cached prefix of the same session is not counted here).
          prompt_eval_count: Math.max(0, usage.usedInputTokens - usage.usedOutputTokens),
          prompt_eval_duration: Number(firstAt - started),
          eval_count: usage.usedOutputTokens,
          eval_duration: Number(ended - firstAt),
        },
      };
    })();
    this.running.set(halt, run);
    try {
      return await run;
    } finally {
      this.running.delete(halt);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** A llama.cpp grammar for an output format, after the bounds check every client-given format needs. */
  private async grammarFor(format: OutputFormat): Promise<LlamaGrammar> {
    checkOutputFormat(format); // coded errors for oversized schemas and grammars
    const llama = this.model.llama;
    if (format.type === 'json_object') return llama.getGrammarFor('json');
    try {
      return format.type === 'json_schema'
        ? await llama.createGrammarForJsonSchema(format.schema as never)
        : await llama.createGrammar({ grammar: format.grammar });
    } catch (error) {
      throw codedError(format.type === 'gbnf' ? 'LH_ERR_GRAMMAR_INVALID' : 'LH_ERR_SCHEMA_INVALID', `${this.name}: ${messageOf(error)}`, error);
    }
  }

  async tokenize(text: string): Promise<number[]> {
    this.ensureLive();
    return [...this.model.tokenize(text)];
  }

  async detokenize(tokens: readonly number[]): Promise<string> {
    this.ensureLive();
    return this.model.detokenize(tokens as Parameters<LlamaModel['detokenize']>[0]);
  }

  async embed(text: string): Promise<number[]> {
    this.ensureLive();
    this.embedding ??= this.model.createEmbeddingContext({ contextSize: this.contextSize, threads: this.defaults.threads });
    try {
      const embedding = await (await this.embedding).getEmbeddingFor(text);
      return [...embedding.vector];
    } catch (error) {
      this.embedding = undefined;
      throw codedError('LH_ERR_EMBEDDING_UNSUPPORTED', `model ${this.name} cannot embed: ${messageOf(error)}`, error);
    }
  }

  /** Called once the host no longer uses the model: end running generations, then free the memory. */
  dispose(): Promise<void> {
    this.disposed ??= (async () => {
      for (const halt of this.running.keys()) halt.abort();
      for (const wake of this.waiting.splice(0)) wake(undefined);
      await Promise.allSettled([...this.running.values()]);
      const embedding = this.embedding;
      if (embedding) await embedding.then((e) => e.dispose(), () => {});
      await this.context.dispose();
      await this.model.dispose();
    })();
    return this.disposed;
  }

  private ensureLive(): void {
    if (this.disposed) throw codedError('LH_ERR_MODEL_DISPOSED', `model ${this.name} has been unloaded`);
  }

  /**
   * A free sequence for `session`, waiting for one in FIFO order; undefined when aborted or disposed meanwhile.
   * Its cache is kept only when it holds this session's own earlier prompt: another session's cached prefix
   * would make a matching prompt faster, which lets one client time another's prompt.
   */
  private async acquire(session: string | undefined, signal: AbortSignal): Promise<LlamaContextSequence | undefined> {
    const own = session === undefined ? -1 : this.free.findIndex((s) => this.owners.get(s) === session);
    const sequence = own >= 0 ? this.free.splice(own, 1)[0] : (this.free.pop() ?? (await this.wait(signal)));
    if (sequence && (session === undefined || this.owners.get(sequence) !== session)) {
      await sequence.clearHistory();
      this.owners.set(sequence, session);
    }
    return sequence;
  }

  private wait(signal: AbortSignal): Promise<LlamaContextSequence | undefined> {
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolveWait) => {
      const wake = (s: LlamaContextSequence | undefined) => {
        signal.removeEventListener('abort', onAbort);
        resolveWait(s);
      };
      const onAbort = () => {
        const at = this.waiting.indexOf(wake);
        if (at !== -1) this.waiting.splice(at, 1);
        resolveWait(undefined);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(wake);
    });
  }

  private release(sequence: LlamaContextSequence): void {
    const next = this.waiting.shift();
    if (next && !this.disposed) next(sequence);
    else this.free.push(sequence);
  }
}

/**
 * Chat messages as node-llama-cpp's chat history: an assistant turn and the tool results after it become one
 * model response (its text, then each call with its result), which is how chat wrappers render function calls.
 */
function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  const calls = new Map<string, ChatModelFunctionCall>();
  let turn: ChatModelResponse | undefined;
  for (const message of messages) {
    if (message.role === 'system' || message.role === 'user') {
      history.push({ type: message.role, text: message.content });
      turn = undefined;
    } else if (message.role === 'assistant') {
      if (!turn) history.push((turn = { type: 'model', response: [] }));
      if (message.content !== '') turn.response.push(message.content);
      for (const call of message.toolCalls ?? []) {
        const item: ChatModelFunctionCall = { type: 'functionCall', name: call.name, params: call.arguments, result: undefined };
        calls.set(call.id, item);
        turn.response.push(item);
      }
    } else {
      const call = calls.get(message.toolCallId ?? '');
      if (call) call.result = message.content;
    }
  }
  return history;
}

export default defineBinding({
  listModels,
  loadModel,
  /** Called when the binding is unloaded or hot-reloaded: free what it holds beyond its models (nothing here). */
  async dispose(ctx) {
    ctx.logger.debug({}, 'binding disposed');
  },
});
