/**
 * The request bodies of the OpenAI-compatible API, checked with zod: the shapes OpenAI documents, with bounds
 * on every size a client controls. Objects are loose: a field the host does not know is ignored (clients send
 * many), and the fields the host knows but does not support are refused by the routes with
 * `LH_ERR_UNSUPPORTED_PARAMETER` (docs/openai-api.md lists both).
 *
 * Besides OpenAI's fields, the llama.cpp server's `top_k`, `repeat_penalty` and `repeat_last_n` are accepted
 * (SillyTavern, Open WebUI and others send them to local engines).
 */
import { z } from 'zod';
import { MAX_NAME_CHARS, MAX_TEXT_CHARS } from '../../../protocol/limits.js';
import { ApiError } from './errors.js';

/** Messages of one chat request, at most. */
export const MAX_MESSAGES = 10_000;
/** Stop strings of one request, at most (OpenAI allows 4; local clients send more). */
export const MAX_STOP_STRINGS = 32;
/** Tools of one request, at most (OpenAI's limit). */
export const MAX_TOOLS = 128;
/** Texts of one embeddings request, at most (OpenAI's limit). */
export const MAX_EMBEDDING_INPUTS = 2048;
/** The longest stop string. */
const MAX_STOP_CHARS = 1000;

const name = () => z.string().max(MAX_NAME_CHARS);
const text = () => z.string().max(MAX_TEXT_CHARS);

/** A content part: `{type: 'text', text}`; other types are refused when the content is read. */
const ContentPart = z.object({ type: z.string().max(64), text: text().optional() }).loose();
/** Message content: a string, or an array of parts. */
const Content = z.union([text(), z.array(ContentPart).max(MAX_MESSAGES)]);

const ToolCallSchema = z.object({
  id: z.string().min(1).max(MAX_NAME_CHARS),
  type: z.literal('function').optional(),
  function: z.object({ name: z.string().max(64), arguments: text() }).loose(),
}).loose();

const MessageSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content: Content, name: name().optional() }).loose(),
  // OpenAI's newer name for system instructions.
  z.object({ role: z.literal('developer'), content: Content, name: name().optional() }).loose(),
  z.object({ role: z.literal('user'), content: Content, name: name().optional() }).loose(),
  z.object({
    role: z.literal('assistant'),
    content: Content.nullish(),
    name: name().optional(),
    tool_calls: z.array(ToolCallSchema).max(MAX_TOOLS).nullish(),
    refusal: text().nullish(),
  }).loose(),
  z.object({ role: z.literal('tool'), content: Content, tool_call_id: z.string().min(1).max(MAX_NAME_CHARS) }).loose(),
]);
export type OpenAIMessage = z.infer<typeof MessageSchema>;

const Stop = z.union([z.string().max(MAX_STOP_CHARS), z.array(z.string().max(MAX_STOP_CHARS)).max(MAX_STOP_STRINGS)]).nullish();

/** Sampling fields shared by chat and completions. */
const sampling = {
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  seed: z.number().int().nullish(),
  stop: Stop,
  /** Accepted and ignored (documented): the engine's penalty is llama.cpp's repeat penalty. */
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  // llama.cpp server extensions.
  top_k: z.number().int().min(0).nullish(),
  repeat_penalty: z.number().min(0).max(10).nullish(),
  repeat_last_n: z.number().int().min(0).nullish(),
  n: z.number().int().nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).loose().nullish(),
  user: z.string().max(256).nullish(),
};

const ResponseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }).loose(),
  z.object({ type: z.literal('json_object') }).loose(),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string().max(64).optional(),
      description: z.string().max(MAX_TEXT_CHARS).optional(),
      schema: z.unknown().optional(),
      strict: z.boolean().nullish(),
    }).loose(),
  }).loose(),
]);

const ToolSchema = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().max(64),
    description: z.string().max(MAX_TEXT_CHARS).optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }).loose(),
}).loose();

const ToolChoiceSchema = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string().max(64) }).loose() }).loose(),
]);

export const ChatCompletionRequestSchema = z.object({
  model: z.string().min(1).max(MAX_NAME_CHARS),
  messages: z.array(MessageSchema).min(1).max(MAX_MESSAGES),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  ...sampling,
  response_format: ResponseFormat.nullish(),
  tools: z.array(ToolSchema).max(MAX_TOOLS).nullish(),
  tool_choice: ToolChoiceSchema.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().nullish(),
  modalities: z.array(z.string().max(64)).max(8).nullish(),
}).loose();
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

export const CompletionRequestSchema = z.object({
  model: z.string().min(1).max(MAX_NAME_CHARS),
  // Token-id prompts (arrays of numbers) fail here: the routes refuse them with a clear message first.
  prompt: z.union([text(), z.array(text()).min(1).max(MAX_EMBEDDING_INPUTS)]),
  max_tokens: z.number().int().min(1).nullish(),
  ...sampling,
  echo: z.boolean().nullish(),
  suffix: text().nullish(),
  best_of: z.number().int().nullish(),
  logprobs: z.number().int().nullish(),
}).loose();
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

export const EmbeddingRequestSchema = z.object({
  model: z.string().min(1).max(MAX_NAME_CHARS),
  input: z.union([text(), z.array(text()).min(1).max(MAX_EMBEDDING_INPUTS)]),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.number().int().nullish(),
  user: z.string().max(256).nullish(),
}).loose();
export type EmbeddingRequest = z.infer<typeof EmbeddingRequestSchema>;

/** `messages[2].content` from zod's `['messages', 2, 'content']`. */
export function paramName(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `${out === '' ? '' : '.'}${String(key)}`;
  return out;
}

/**
 * Parse a body with `schema`.
 * @throws `LH_ERR_BAD_REQUEST` naming the first field at fault (`param`)
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError('LH_ERR_BAD_REQUEST', 'the request body must be a JSON object');
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const param = paramName(issue.path);
  throw new ApiError('LH_ERR_BAD_REQUEST', `${param || 'body'}: ${issue.message}`, param || undefined);
}
