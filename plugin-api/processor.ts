import type { SamplingOptions } from './binding.js';
import type { ChatMessage, ToolChoice, ToolDefinition } from './chat.js';
import type { JsonSchema } from './output-format.js';

/** The type of a processor setting, as in the original lollms config templates. */
export type SettingType = 'int' | 'float' | 'str' | 'bool' | 'list';
export type SettingValue = number | string | boolean | unknown[];

/**
 * An upper bound that follows the loaded model's context size (since 1.1), as the original set `max` from
 * `ctx_size`: `'ctx_size'`, or `ctx_size` and one operation with a number, e.g. `'ctx_size - 256'`,
 * `'ctx_size / 2'`, `'ctx_size * 0.75'`. The host resolves it with the loaded model's context size (the config's
 * `ctx_size` while none is loaded), rounded down for an `int` setting.
 */
export type ContextSizeBound = 'ctx_size' | `ctx_size ${'+' | '-' | '*' | '/'} ${number}`;

/** One entry of a processor's settings template. */
export interface SettingTemplate {
  type: SettingType;
  /** Default value. */
  value: SettingValue;
  /** Lower bound for `int` and `float`. */
  min?: number;
  /**
   * Upper bound for `int` and `float`: a number, or (since 1.1) a `ContextSizeBound` such as `'ctx_size'`. A value
   * above a context-size bound (a default, or a value saved under a larger model) reaches `ctx.settings` lowered to it.
   */
  max?: number | ContextSizeBound;
  /** One line shown to users. */
  help?: string;
  /** Allowed values for a `str` setting. */
  options?: string[];
}

export type SettingsTemplate = Record<string, SettingTemplate>;

/** Options of `ctx.generate`. Sampling values left out use the personality's `model_*` settings. */
export interface ProcessorGenerateOptions extends SamplingOptions {
  /** Extra stop strings, on top of the personality's anti-prompts. */
  stop?: string[];
  /** Forward the chunks to the client as `text_chunk` while they arrive. */
  stream?: boolean;
  /**
   * Constrain the output to JSON that follows this JSON schema (since 1.1): a grammar made from it forces the
   * shape, the host validates the result against the whole schema, and the call resolves to the parsed value.
   * Bounded (`checkJsonSchema`: 64 KiB, depth 64, 1024 properties). Not with `grammar`.
   */
  schema?: JsonSchema;
  /** Constrain the output with a GBNF grammar whose start rule is `root` (since 1.1); resolves to the text. Not with `schema`. */
  grammar?: string;
}

/** A function the model may call in `ctx.chat` (since 1.1): a `ToolDefinition` with the code that answers it. */
export interface ProcessorTool<Args = any> extends ToolDefinition {
  /**
   * Runs inside the sandbox when the model calls the tool, with the parsed arguments (validated by the host
   * against `parameters`). Its result goes back to the model: a string as is, anything else as JSON. A throw is
   * reported to the model as `{"error": message}` and the loop goes on (a `CancelledError` or a limit ends it).
   */
  handler(args: Args): unknown;
}

/** Declare a tool with typed arguments: `defineTool<{ a: number }>({ name, parameters, handler: ({ a }) => a * 2 })`. */
export function defineTool<Args = any>(tool: ProcessorTool<Args>): ProcessorTool<Args> {
  return tool;
}

/** Options of `ctx.chat` (since 1.1). Sampling values left out use the personality's `model_*` settings. */
export interface ProcessorChatOptions extends SamplingOptions {
  /** Extra stop strings (the personality's anti-prompts do not apply: the model's chat template ends its turns). */
  stop?: string[];
  /** Forward the answer's text to the client as `text_chunk` while it arrives. */
  stream?: boolean;
  /** The answer is JSON that follows this schema; resolves to the parsed value (see `ProcessorGenerateOptions.schema`). */
  schema?: JsonSchema;
  /** The answer follows this GBNF grammar; resolves to the text. Not with `schema`. */
  grammar?: string;
  /** Functions the model may call; their handlers run in the sandbox and the loop feeds their results back until the model answers. */
  tools?: readonly ProcessorTool[];
  /**
   * Whether the model may (`auto`, default), must (`required`, `{ name }`) or may not (`none`) call a tool. A forcing
   * choice applies to the first round only; later rounds are `auto`, so the model can answer with the results.
   */
  toolChoice?: ToolChoice;
  /** Most model rounds of this call (each round that calls tools is followed by one more); default and ceiling `sandbox_max_tool_rounds`. */
  maxToolRounds?: number;
  /** Called with each message the call adds to the chat, in order: the assistant's tool calls, each tool result, the final answer. */
  onMessage?: (message: ChatMessage) => void;
}

/** Options of `ctx.ask` (since 1.1). */
export interface AskOptions {
  /** Answers to offer (at most 32, each at most 1000 characters); the user's answer is then one of them. */
  choices?: readonly string[];
  /** How long to wait for the answer, in ms; default and ceiling `sandbox_ask_timeout_ms`. Waiting does not count against the wall time limit. */
  timeoutMs?: number;
}

/** The loaded model, as a workflow sizes its prompts by it (since 1.1). */
export interface ModelInfo {
  /** The model's name, as the binding lists it. */
  name: string;
  /** Its context size in tokens (prompt and answer together). */
  contextSize: number;
}

/**
 * The personality's own persistent storage (since 1.1): JSON values by key, kept in the host's data dir across
 * turns, clients and restarts, shared by every client of the personality. Keys are 1 to 256 characters without
 * control characters; all keys and values together are bounded by `personality_store_max_bytes`. Writes are
 * atomic: a crash leaves the old value or the new one.
 */
export interface ProcessorStore {
  /** The value of `key` (a fresh copy), or `undefined` when there is none. */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Store a JSON value under `key` (`undefined`, functions and cycles are refused); over the quota it throws `LH_ERR_STORE_QUOTA`. */
  set(key: string, value: unknown): Promise<void>;
  /** Remove `key`; resolves to whether it existed. */
  delete(key: string): Promise<boolean>;
  /** The keys, sorted, optionally only those starting with `prefix`. */
  keys(prefix?: string): Promise<string[]>;
}

/** A read-only view of the personality the processor belongs to. */
export interface PersonalityView {
  name: string;
  folder: string;
  author: string;
  version: string;
  language: string;
  category: string;
  user_message_prefix: string;
  ai_message_prefix: string;
  link_text: string;
  anti_prompts: string[];
  personality_conditioning: string;
  model_temperature: number;
  model_n_predicts: number;
  model_top_k: number;
  model_top_p: number;
  model_repeat_penalty: number;
  model_repeat_last_n: number;
}

/**
 * What a processor's hooks receive. Inside the sandbox this is the whole world: there is no fs, network,
 * process or host object. Every call counts against the workflow's host-call limit, and once the client
 * cancels, every call throws a `CancelledError`.
 */
export interface ProcessorContext {
  /**
   * Generate with the loaded model; the personality's anti-prompts cut the text. With `schema` (since 1.1) the
   * output is forced into that shape and the call resolves to the parsed, validated value.
   */
  generate<T = unknown>(prompt: string, options: ProcessorGenerateOptions & { schema: JsonSchema }): Promise<T>;
  generate(prompt: string, options?: ProcessorGenerateOptions): Promise<string>;
  /**
   * One chat with the loaded model's own chat template (since 1.1). With `tools`, the model may call them: their
   * handlers run here, in the sandbox, and the results go back to the model until it answers (each call is a
   * step on the client). Resolves to the answer's text, or with `schema` to its parsed, validated value.
   */
  chat<T = unknown>(messages: readonly ChatMessage[], options: ProcessorChatOptions & { schema: JsonSchema }): Promise<T>;
  chat(messages: readonly ChatMessage[], options?: ProcessorChatOptions): Promise<string>;
  /** Embedding vectors of `texts` (since 1.1), one per text, in order; rank them with `rankBySimilarity`. At most 64 texts per call. */
  embed(texts: readonly string[]): Promise<number[][]>;
  /**
   * Ask the user a question and wait for the answer (since 1.1); the client gets `generation_ask`. Rejects with
   * `LH_ERR_ASK_UNAVAILABLE` where no client can answer (the OpenAI-compatible API), `LH_ERR_ASK_TIMEOUT` after
   * `timeoutMs`, and a `CancelledError` on cancel or disconnect.
   */
  ask(question: string, options?: AskOptions): Promise<string>;
  /**
   * Run another personality's turn on `prompt`, in that personality's own sandbox, and resolve to its answer
   * (since 1.1). `path` is its zoo path (`language/category/name`). It counts against this turn's budgets; calls
   * nest at most `sandbox_max_call_depth` deep, a cycle is refused (`LH_ERR_PERSONALITY_CALL_LOOP`), and a
   * personality may refuse callers with `callable_by` (`LH_ERR_PERSONALITY_CALL_DENIED`).
   */
  callPersonality(path: string, prompt: string): Promise<string>;
  /**
   * This discussion's state for this personality (since 1.1): a JSON object you may change, kept with the
   * client's discussion and handed to the next hook and the next turn. Saved when a hook returns (not when it
   * throws); at most `sandbox_max_state_bytes` as JSON. Empty at each request where there is no kept discussion
   * (the OpenAI-compatible API).
   */
  readonly state: Record<string, unknown>;
  /** The personality's persistent key-value storage (since 1.1). */
  readonly store: ProcessorStore;
  /** The loaded model's name and context size (since 1.1). */
  readonly model: Readonly<ModelInfo>;
  tokenize(text: string): Promise<number[]>;
  detokenize(tokens: number[]): Promise<string>;
  /** MSG_TYPE_CHUNK (0): a piece of the answer, sent as `text_chunk`. */
  chunk(text: string): void;
  /** MSG_TYPE_FULL (1): the full answer so far. */
  full(text: string): void;
  /** MSG_TYPE_FULL_INVISIBLE_TO_AI (2). */
  fullInvisibleToAi(text: string): void;
  /** MSG_TYPE_FULL_INVISIBLE_TO_USER (3). */
  fullInvisibleToUser(text: string): void;
  /** MSG_TYPE_EXCEPTION (4). */
  exception(text: string): void;
  /** MSG_TYPE_WARNING (5). */
  warning(text: string): void;
  /** MSG_TYPE_INFO (6). */
  info(text: string): void;
  /** MSG_TYPE_STEP (7). */
  step(text: string): void;
  /** MSG_TYPE_STEP_START (8). */
  stepStart(text: string): void;
  /** MSG_TYPE_STEP_PROGRESS (9), `progress` from 0 to 100. */
  stepProgress(text: string, progress: number): void;
  /** MSG_TYPE_STEP_END (10). */
  stepEnd(text: string, success?: boolean): void;
  /** MSG_TYPE_JSON_INFOS (11). */
  json(title: string, data: unknown): void;
  /** MSG_TYPE_REF (12). */
  ref(text: string): void;
  /** MSG_TYPE_CODE (13). */
  code(text: string): void;
  /** MSG_TYPE_UI (14). */
  ui(html: string): void;
  /** MSG_TYPE_NEW_MESSAGE (15). */
  newMessage(text: string, type?: number): void;
  /** MSG_TYPE_FINISHED_MESSAGE (17). */
  finishedMessage(text?: string): void;
  /** The personality's current settings values (a copy). */
  readonly settings: Readonly<Record<string, SettingValue>>;
  /** The personality's config (a copy). */
  readonly personality: Readonly<PersonalityView>;
  /** `aborted` turns true when the client cancels or disconnects. */
  readonly signal: { readonly aborted: boolean };
  /** Write to the host log, tagged with the personality. */
  log(...args: unknown[]): void;
}

/** The input of a custom workflow. */
export interface WorkflowInput {
  /** The user's prompt, as sent. */
  prompt: string;
  /** The conditioning and this client's discussion so far, cropped to fit the context. */
  previousDiscussion: string;
}

/** A processor script: `export default defineProcessor({...})` in `scripts/processor.ts`. */
export interface ProcessorDefinition {
  /** The settings template; values are persisted per personality and validated against it. */
  settings?: SettingsTemplate;
  /** Rewrites the user's text before it enters the discussion (`processor_cfg.process_model_input`). */
  processModelInput?(text: string, ctx: ProcessorContext): string | Promise<string>;
  /** Replaces the model call with a workflow of its own; returns the answer (`processor_cfg.custom_workflow`). */
  runWorkflow?(input: WorkflowInput, ctx: ProcessorContext): string | Promise<string>;
  /** Rewrites the answer before it is sent and recorded (`processor_cfg.process_model_output`). */
  processModelOutput?(text: string, ctx: ProcessorContext): string | Promise<string>;
}

/** Declare a processor; the script's default export must be its result. */
export function defineProcessor<T extends ProcessorDefinition>(definition: T): T {
  return definition;
}

/** Thrown by every `ctx` call once the generation was cancelled. */
export class CancelledError extends Error {
  readonly code = 'LH_ERR_CANCELLED';
  constructor(message = 'The generation was cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}
