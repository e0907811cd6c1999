import type { Llama } from 'node-llama-cpp';
import type { ChatMessage, ToolCall, ToolChoice, ToolDefinition } from './chat.js';
import type { OutputFormat } from './output-format.js';

/**
 * Why a generation ended: `eos` the model ended (or a grammar completed), `maxTokens` the token limit,
 * `stop` a stop string, `abort` the signal, `toolCalls` the model called tools (`chat` only; since 1.1).
 */
export type StopReason = 'eos' | 'maxTokens' | 'stop' | 'abort' | 'toolCalls';

/** Timings of one generation, with Ollama's field names; durations are in nanoseconds. */
export interface GenerationTimings {
  /** Tokens in the evaluated prompt. */
  prompt_eval_count: number;
  /** Time spent evaluating the prompt, in ns. */
  prompt_eval_duration: number;
  /** Tokens generated. */
  eval_count: number;
  /** Time spent generating, in ns. */
  eval_duration: number;
  /**
   * Of `prompt_eval_count`, the tokens reused from the cache of an earlier generation of the same `session`
   * rather than evaluated again (OpenAI's `cached_tokens`). Absent when the binding does not know. Since 1.1.
   */
  prompt_cached_count?: number;
}

/** Sampling options shared by `LoadedModel.generate` and a processor's `ctx.generate`. */
export interface SamplingOptions {
  /** Maximum new tokens (the original `n_predicts`). */
  maxTokens?: number;
  /** Sampling temperature; 0 is greedy. */
  temperature?: number;
  /** Top-k sampling; 0 disables it. */
  topK?: number;
  /** Top-p (nucleus) sampling. */
  topP?: number;
  /** Repeat penalty; 1 disables it. */
  repeatPenalty?: number;
  /** How many of the last tokens the repeat penalty considers. */
  repeatLastN?: number;
  /** Sampling seed; -1 (or absent) is random. */
  seed?: number;
}

/** Options of `LoadedModel.generate`. Sampling values left out use the binding's defaults. */
export interface GenerateOptions extends SamplingOptions {
  /**
   * Stop strings (anti-prompts), matched case-insensitively. A stop string is never emitted, and text that
   * might be the start of one is held back until it is decided.
   */
  stop?: readonly string[];
  /** Aborting stops the generation within one token; the result then has `stopReason: 'abort'`. */
  signal?: AbortSignal;
  /** Receives each text piece as it is produced; pieces are UTF-8 safe and join into `text`. */
  onChunk?: (text: string) => void;
  /**
   * Constrain the output (since 1.1). A binding that cannot honour a format rejects with a coded error rather
   * than ignore it. Check client-given formats with `checkOutputFormat` first.
   */
  format?: OutputFormat;
  /**
   * The client or discussion this generation belongs to (since 1.1), an opaque id. A binding must not let one
   * session's cached prompt speed up another session's generation (a timing side channel): it may reuse the
   * cache only between generations of the same session, and never for generations without one. A remote
   * binding may use it to keep a session on one endpoint.
   */
  session?: string;
}

/** What `generate` resolves to. */
export interface GenerateResult {
  /** The generated text, without the prompt and without any stop string. */
  text: string;
  /** Why it ended. */
  stopReason: StopReason;
  /** Token counts and durations. */
  timings: GenerationTimings;
}

/** Options of `LoadedModel.chat` (since 1.1): those of `generate`, plus tools. */
export interface ChatOptions extends GenerateOptions {
  /** Functions the model may call; calls come back as `ChatResult.toolCalls` with `stopReason: 'toolCalls'`. */
  tools?: readonly ToolDefinition[];
  /** Whether the model may or must call a tool; default `auto` with tools. Ignored without tools. */
  toolChoice?: ToolChoice;
  /** Receives the model's reasoning ("thinking") text as it is produced, for models that emit it; it is not part of `text`. */
  onReasoningChunk?: (text: string) => void;
}

/** What `chat` resolves to. */
export interface ChatResult extends GenerateResult {
  /** The tools the model called, when `stopReason` is `toolCalls`; `text` is what it said before them. */
  toolCalls?: ToolCall[];
  /** The model's reasoning text, when it emitted any (never part of `text`). */
  reasoning?: string;
}

/** Options of `LoadedModel.tokenize` (since 1.1; a binding may ignore them). */
export interface TokenizeOptions {
  /**
   * Report CPU time (ns) spent for this call that the caller cannot see: on another thread (a tokenizer
   * thread), or on the calling thread after the call returned its promise (converting the result). The host
   * measures the synchronous part of the call itself, and counts the sum against whoever asked (a processor's
   * CPU limit, docs/security.md). May be called more than once, before the promise settles.
   */
  onCpuTime?(ns: number): void;
}

/**
 * Live figures of one remote endpoint behind a model (since 1.1): what `GET /status` shows under `endpoints`,
 * and what metrics export. Nothing here may carry a secret (no API key, no credentials in `url`).
 */
export interface EndpointStatus {
  /** A short name for the endpoint (its configured name, or its URL's host and port). */
  name: string;
  /** Its base URL, without credentials, query or fragment. */
  url: string;
  /** Whether it takes requests now; false while it is out after a failure and probed until it answers. */
  healthy: boolean;
  /** Requests running on it now. */
  inFlight: number;
  /** The most requests it runs at once (its concurrency limit). */
  limit: number;
  /** Requests sent to it since the model was loaded (retries included). */
  requests: number;
  /** Of those, the ones that failed because of the endpoint (connection, server error, broken stream). */
  failures: number;
  /** Time to the first token (or the answer) of its last successful request, in ms; null before any. */
  latencyMs: number | null;
  /** When it is out: when it is probed next (ISO 8601). */
  nextProbeAt?: string;
  /** Its last failure, as a short text (no secret, no server path). */
  lastError?: string;
}

/** What `LoadedModel.status` reports (since 1.1); every field is optional, later versions add more. */
export interface ModelStatus {
  /** The remote endpoints serving the model (a binding in front of remote engines), in configured order. */
  endpoints?: EndpointStatus[];
}

/** A model loaded by a binding. The host calls `dispose()` when it is replaced, unloaded or the host stops. */
export interface LoadedModel {
  /** The model's name as listed by `listModels`. */
  readonly name: string;
  /** Context size in tokens. */
  readonly contextSize: number;
  /** Generate text after `prompt` (the contract is in docs/writing-a-binding.md). */
  generate(prompt: string, options?: GenerateOptions): Promise<GenerateResult>;
  /**
   * Answer a chat with the model's own chat template (since 1.1). Optional: for a binding without it, the host
   * renders the messages with `renderChatFallback` and calls `generate`. Same streaming, stop, abort and
   * session contract as `generate`.
   */
  chat?(messages: readonly ChatMessage[], options?: ChatOptions): Promise<ChatResult>;
  /**
   * The model's tokens of `text`. Optional since plugin API 1.1: a binding that cannot tokenize (a remote engine
   * without a tokenize route) leaves both methods out; the host then estimates token counts for cropping and
   * answers `tokenize`/`detokenize` requests with `LH_ERR_TOKENIZER_UNAVAILABLE`.
   */
  tokenize?(text: string, options?: TokenizeOptions): Promise<number[]>;
  /** The text of `tokens`; present exactly when `tokenize` is. */
  detokenize?(tokens: readonly number[]): Promise<string>;
  /** An embedding of `text`; absent when the binding cannot embed. */
  embed?(text: string): Promise<number[]>;
  /**
   * Live status for `GET /status` and metrics (since 1.1). Optional; called often, so it must be cheap and
   * synchronous, and must never include a secret.
   */
  status?(): ModelStatus;
  /** Free the model: end running generations (they resolve with `abort`), then release its memory. */
  dispose(): Promise<void>;
}

/** A model file a binding can load. */
export interface ModelFile {
  /** Name a client selects (`select_model {model_name}`): the file name, or `<name>.reference`. */
  name: string;
  /** Absolute path of the model data (for a `.reference`, the path it points to). */
  path: string;
  /** `file` for a model in the models dir, `reference` for a `.reference` pointer. */
  kind: 'file' | 'reference';
  /** Size in bytes, 0 when unknown (e.g. a dangling reference). */
  size: number;
}

/** A request to load a model. */
export interface LoadModelRequest {
  /** The model name, as returned by `listModels`. */
  model: string;
  /** Context size in tokens (config `ctx_size`). */
  contextSize: number;
  /** Parallel sequences the context must offer (config `parallel`). */
  sequences: number;
  /** Engine threads. */
  threads: number;
  /** Aborting cancels the load; the promise then rejects. */
  signal?: AbortSignal;
  /** Load progress from 0 to 1. */
  onProgress?: (progress: number) => void;
}

/** A logger with pino's call shape; every line carries the plugin's name. */
export interface PluginLogger {
  trace(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

/** What the host hands a binding. */
export interface BindingContext {
  /** The binding's folder name, its id on the wire. */
  readonly name: string;
  /** Absolute path of the binding's folder. */
  readonly folder: string;
  /** `<models_path>/<binding folder>/`, created by the host. */
  readonly modelsDir: string;
  /** Settings: the card's `settings` defaults overlaid with the values saved in the data dir. */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly logger: PluginLogger;
  /** The host's one shared llama.cpp engine (created on first use). */
  getLlama(): Promise<Llama>;
  /** Whether the engine may use a GPU (config `enable_gpu`). */
  readonly gpu: boolean;
}

/** The functions a binding module exports through `defineBinding`. */
export interface BindingDefinition {
  /** The models this binding can load now. */
  listModels(ctx: BindingContext): Promise<ModelFile[]>;
  /** Load a model; reject with a clear error for a corrupt or unknown file. */
  loadModel(ctx: BindingContext, request: LoadModelRequest): Promise<LoadedModel>;
  /** Release anything the binding holds beyond its models (called on unload and hot reload). */
  dispose?(ctx: BindingContext): Promise<void>;
}

const BINDING_BRAND = Symbol.for('lollms-host.binding');

export type Binding = BindingDefinition & { readonly [BINDING_BRAND]: true };

/** Declare a binding; the module's default export must be its result. */
export function defineBinding(definition: BindingDefinition): Binding {
  return Object.freeze({ ...definition, [BINDING_BRAND]: true as const });
}

/** Whether a module export is a binding made by `defineBinding` (any copy of this module). */
export function isBinding(value: unknown): value is Binding {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BINDING_BRAND] === true
    && typeof (value as BindingDefinition).listModels === 'function' && typeof (value as BindingDefinition).loadModel === 'function';
}
