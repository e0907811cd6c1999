/**
 * Payload shapes of every event, derived from the zod schemas that validate them (requests) or written out
 * (replies). Field names are the original's; comments mark the ones that are ours.
 */
import { z } from 'zod';
import { MAX_NAME_CHARS, MAX_TEXT_CHARS, MAX_TOKEN_IDS } from './limits.js';

/** A short string field: a name, a path, a file name, a URL (issue 11: every size from a client is bounded). */
const name = () => z.string().max(MAX_NAME_CHARS);
/** A text field: a prompt, a text to tokenize or embed. */
const text = () => z.string().max(MAX_TEXT_CHARS);

// ---------------------------------------------------------------------------------------------- requests

/** Accept no payload, `{}` or any object: list requests are sent bare, flags as `{}`. */
export const EmptySchema = z.union([z.undefined(), z.null(), z.object({}).passthrough()]);
export type Empty = z.input<typeof EmptySchema>;

/** Cancels take any payload (or none): a cancel must never be refused, whatever a client sends with it. */
export const AnyPayloadSchema = z.unknown();

export const CategoriesRequestSchema = z.object({ language: name().optional() }).passthrough();
export type CategoriesRequest = z.input<typeof CategoriesRequestSchema>;

export const NamesRequestSchema = z.object({ language: name().optional(), category: name() }).passthrough();
export type NamesRequest = z.input<typeof NamesRequestSchema>;

export const SelectBindingRequestSchema = z.object({ binding_name: name().min(1) }).passthrough();
export type SelectBindingRequest = z.input<typeof SelectBindingRequestSchema>;

export const SelectModelRequestSchema = z.object({ model_name: name().min(1) }).passthrough();
export type SelectModelRequest = z.input<typeof SelectModelRequestSchema>;

export const AddPersonalityRequestSchema = z.object({ path: name().min(1) }).passthrough();
export type AddPersonalityRequest = z.input<typeof AddPersonalityRequestSchema>;

export const ActivatePersonalityRequestSchema = z.object({ id: z.number().int() }).passthrough();
export type ActivatePersonalityRequest = z.input<typeof ActivatePersonalityRequestSchema>;

export const TokenizeRequestSchema = z.object({ prompt: text() }).passthrough();
export type TokenizeRequest = z.input<typeof TokenizeRequestSchema>;

export const DetokenizeRequestSchema = z.object({ prompt: z.array(z.number().int().min(0)).max(MAX_TOKEN_IDS) }).passthrough();
export type DetokenizeRequest = z.input<typeof DetokenizeRequestSchema>;

export const EmbedRequestSchema = z.object({ prompt: text() }).passthrough();
export type EmbedRequest = z.input<typeof EmbedRequestSchema>;

export const SamplingParametersSchema = z
  .object({
    temperature: z.number().min(0).optional(),
    top_k: z.number().int().min(0).optional(),
    top_p: z.number().min(0).max(1).optional(),
    repeat_penalty: z.number().min(0).optional(),
    repeat_last_n: z.number().int().min(0).optional(),
    seed: z.number().int().min(-1).optional(),
  })
  .passthrough();
export type SamplingParameters = z.infer<typeof SamplingParametersSchema>;

export const GenerateTextRequestSchema = SamplingParametersSchema.extend({
  prompt: text(),
  /** -1 (default) = raw completion; >= 0 = index of a mounted personality. */
  personality: z.number().int().min(-1).optional(),
  n_predicts: z.number().int().min(1).optional(),
  parameters: SamplingParametersSchema.optional(),
  /** Keep only the last n prompt tokens; -1 or 0 = all. */
  n_crop: z.number().int().min(-1).optional(),
}).passthrough();
export type GenerateTextRequest = z.input<typeof GenerateTextRequestSchema>;

/** Ours. */
export const GetPersonalitySettingsRequestSchema = z.object({ id: z.number().int() }).passthrough();
export type GetPersonalitySettingsRequest = z.input<typeof GetPersonalitySettingsRequestSchema>;

/** Ours. */
export const SetPersonalitySettingsRequestSchema = z
  .object({ id: z.number().int(), settings: z.record(z.string(), z.unknown()) })
  .passthrough();
export type SetPersonalitySettingsRequest = z.input<typeof SetPersonalitySettingsRequestSchema>;

/** Ours: a `models.yaml` filename of the current binding, or any http(s) URL. */
export const InstallModelRequestSchema = z
  .object({
    path: name().min(1).optional(),
    url: name().min(1).optional(),
    filename: name().min(1).optional(),
    sha256: name().optional(),
  })
  .passthrough()
  .refine((v) => v.path !== undefined || v.url !== undefined || v.filename !== undefined, {
    message: 'one of path, url or filename is required',
    path: ['path'],
  });
export type InstallModelRequest = z.input<typeof InstallModelRequestSchema>;

/** Ours (issue 15): the user's answer to a processor's question (`generation_ask`). */
export const GenerationAnswerRequestSchema = z.object({ request_id: name().min(1), answer: text() }).passthrough();
export type GenerationAnswerRequest = z.input<typeof GenerationAnswerRequestSchema>;

/** Ours. */
export const CancelInstallRequestSchema = z.object({ path: name().optional(), url: name().optional(), filename: name().optional() }).passthrough();
export type CancelInstallRequest = z.input<typeof CancelInstallRequestSchema>;

// ---------------------------------------------------------------------------------------------- replies

export interface Failure {
  success: false;
  error: string;
}
export interface Message {
  message: string;
}

export interface BindingsListEntry {
  /** Folder name. */
  name: string;
  /** `binding_card.yaml`, verbatim. */
  card: unknown;
  /** `models.yaml`, verbatim. */
  models: unknown;
}
export type BindingsListReply = { success: true; bindings: BindingsListEntry[] } | Failure;

export interface PersonalityInfo {
  folder: string;
  name: string;
  description: string;
  author: string;
  version: string;
  has_scripts: boolean;
  has_logo: boolean;
  /** URL path served by the host, or "" when there is no logo. */
  avatar: string;
}
export type PersonalitiesListReply =
  | { personalities: Record<string, Record<string, PersonalityInfo[]>> }
  | (Failure & { personalities: Record<string, never> });

export interface AvailableModel {
  title: string;
  icon: string;
  license: string;
  owner: string;
  owner_link: string;
  description: string;
  isInstalled: boolean;
  path: string;
  filesize: number;
  model_type: string;
}
export type AvailableModelsListReply = { success: true; available_models: AvailableModel[] } | Failure;
export type LanguagesListReply = { success: true; available_personalities_languages: string[] } | Failure;
export type CategoriesListReply = { success: true; available_personalities_categories: string[] } | Failure;
export type NamesListReply = { success: true; list_available_personalities_names: string[] } | Failure;
export type SelectBindingReply = { success: true; binding_name: string } | (Failure & { binding_name: string });
export type SelectModelReply = { success: true; model_name: string } | (Failure & { model_name: string });
export interface PersonalityAddedReply {
  success: true;
  name: string;
  id: number;
}
export type ActivePersonalitiesListReply = { success: true; personalities: string[] } | Failure;
export interface ActivatePersonalityReply {
  success: true;
  name: string;
  id: number;
}
export type TokenizedReply = { tokens: number[] } | Failure;
export type DetokenizedReply = { text: string } | Failure;
/** sic: the embedding vector travels under `text`. */
export type EmbededReply = { text: number[] } | Failure;
export interface TextChunk {
  chunk: string;
  type: 0;
}
export interface TextGenerated {
  text: string;
}
export interface GenerationError {
  error: string;
  /** Ours: the error's stable code, e.g. `LH_ERR_SANDBOX_SCRIPT`, `LH_ERR_NO_MODEL`. */
  code?: string;
  /** Ours, for a processor fault: the file of the author's code it happened in, relative to the personality folder. */
  file?: string;
  /** Ours: 1-based line in `file`. */
  line?: number;
  /** Ours: 1-based column in `file`. */
  column?: number;
  /** Ours, for a processor fault: `Name: message` and the author's frames (`    at fn (scripts/x.ts:2:20)`), nothing of the host. */
  stack?: string;
}
/** Ours: every processor message that is not a chunk. */
export interface GenerationMessage {
  type: number;
  type_name: string;
  content: string;
  metadata: Record<string, unknown>;
}
/**
 * Ours (issue 15): a processor's question to the user (`ctx.ask`), sent to the client whose generation asks it.
 * The generation waits for `generation_answer {request_id, answer}` (or its timeout, a cancel or a disconnect).
 */
export interface GenerationAsk {
  /** Names this question in the answer; unique per question. */
  request_id: string;
  /** The question, as the processor wrote it. */
  question: string;
  /** When present, the answer must be one of these. */
  choices?: string[];
  /** How long the host waits for the answer, in ms, from when it sent this. */
  timeout_ms: number;
}
/** Ours (issue 15): the reply to `generation_answer`; `success` true once the answer reached the waiting question. */
export type GenerationAnswerReply = { success: true; request_id: string } | (Failure & { request_id?: string });
/** Ours: a queued `generate_text` (`max_queue` > 0) is told its place, again whenever it changes. */
export interface GenerationQueued {
  /** Requests served before this one if no other arrives (0 = next). */
  position: number;
}
/** Ours. */
export interface ModelLoadingProgress {
  model_name: string;
  progress: number;
}
/** Ours. */
export type PersonalitySettingsReply =
  | { success: true; id: number; settings: Record<string, unknown>; template: Record<string, unknown> }
  | (Failure & { id?: number });
/** Ours. */
export interface InstallProgress {
  filename: string;
  url: string;
  bytes: number;
  total: number | null;
  progress: number | null;
}
/** Ours. */
export type ModelInstalledReply = { success: true; filename: string; path: string } | (Failure & { filename?: string });
/** Ours: broadcast when a plugin fails to (re)load; the last good version keeps serving. */
export interface PluginErrorEvent {
  kind: 'binding' | 'personality';
  name: string;
  path: string;
  error: {
    message: string;
    /** The file, relative to `path` when it is inside it. */
    file?: string;
    line?: number;
    column?: number;
    /** A code frame: a few numbered lines around the error, a caret under its column. */
    frame?: string;
  };
}
/** One problem of `plugin_warning`. */
export interface PluginWarning {
  message: string;
  /** The file, relative to the plugin's folder. */
  file?: string;
  line?: number;
  column?: number;
  /** A code frame, as in `plugin_error`. */
  frame?: string;
}
/**
 * Ours: broadcast when a plugin (re)loaded with non-fatal problems (type errors, config warnings), after it
 * was swapped in; the reload is not blocked. An empty `warnings` after a fixed save clears the earlier ones.
 */
export interface PluginWarningEvent {
  kind: 'binding' | 'personality';
  name: string;
  /** Its folder, relative to its plugins folder, as in `plugin_error`. */
  path: string;
  warnings: PluginWarning[];
}
/** Ours: broadcast when a plugin was (re)loaded. */
export interface PluginReloadedEvent {
  kind: 'binding' | 'personality';
  name: string;
  version: string;
  /** Its folder, relative to its plugins folder, as in `plugin_error` (which may name the plugin differently). */
  path: string;
}
