import type { SamplingOptions } from './binding.js';

/** The type of a processor setting, as in the original lollms config templates. */
export type SettingType = 'int' | 'float' | 'str' | 'bool' | 'list';
export type SettingValue = number | string | boolean | unknown[];

/** One entry of a processor's settings template. */
export interface SettingTemplate {
  type: SettingType;
  /** Default value. */
  value: SettingValue;
  /** Lower bound for `int` and `float`. */
  min?: number;
  /** Upper bound for `int` and `float`. */
  max?: number;
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
  /** Generate with the loaded model; the personality's anti-prompts cut the text. */
  generate(prompt: string, options?: ProcessorGenerateOptions): Promise<string>;
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
