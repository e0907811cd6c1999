/**
 * One chat round with the loaded model, for every caller (the OpenAI-compatible API, a processor's `ctx.chat`,
 * the console): the request is checked, the binding's own `chat` (the model's chat template) answers it, or, for a
 * binding without `chat`, the documented fallback template over `generate`. What comes back is validated in
 * the host, whatever the binding promised: JSON formats parse and follow their schema, tool calls name an
 * offered tool and their arguments follow its parameters.
 */
import {
  checkChatRequest,
  ChatRequestError,
  parseChatFallbackOutput,
  renderChatFallback,
  type ChatMessage,
  type ChatOptions,
  type ChatResult,
  type LoadedModel,
  type OutputFormat,
} from '../../plugin-api/index.js';
import { BadRequest } from '../errors.js';
import { OutputValidator } from './output-validator.js';

/** What a chat round gives back: the binding's result, plus the parsed value of a JSON format. */
export interface ChatRoundResult extends ChatResult {
  /** The answer parsed and validated, when `format` is `json_object` or `json_schema` and no tool was called. */
  value?: unknown;
}

/** The model members a chat round uses. */
export type ChatModel = Pick<LoadedModel, 'generate' | 'chat'>;

/** One validator for the process: compiled schemas are cached (bounded) across requests. */
let sharedValidator: OutputValidator | undefined;
const validator = () => (sharedValidator ??= new OutputValidator());

/**
 * Run one chat round. `options` are the binding's (`ChatOptions`: sampling, stop, signal, onChunk, session,
 * format, tools, toolChoice).
 * @throws `LH_ERR_BAD_REQUEST` for a malformed request (roles, unanswered tool calls, tool names); the schema and
 *   grammar codes for a format or tool schema out of bounds; `LH_ERR_OUTPUT_INVALID` when the output does not
 *   follow the format or the tool's schema.
 */
export async function chatRound(model: ChatModel, messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<ChatRoundResult> {
  const { tools, toolChoice, format } = options;
  try {
    checkChatRequest(messages, { ...(tools ? { tools } : {}), ...(toolChoice ? { toolChoice } : {}), ...(format ? { format } : {}) });
  } catch (error) {
    if (error instanceof ChatRequestError) throw BadRequest(error.message, { cause: error });
    throw error;
  }
  const result = model.chat ? await model.chat(messages, options) : await fallbackChat(model, messages, options);
  if (result.stopReason === 'abort') return result;
  if (result.toolCalls && result.toolCalls.length > 0) {
    validator().checkToolCalls(tools ?? [], result.toolCalls);
    return result;
  }
  if (format && format.type !== 'gbnf') return { ...result, value: validator().parse(format, result.text) };
  return result;
}

/**
 * The value of a `generate` output made with `format`, checked in the host as a chat round's is: parsed and
 * validated for the JSON formats, the text itself for `gbnf`. Shares the chat rounds' compiled schemas.
 * @throws `LH_ERR_OUTPUT_INVALID`, `LH_ERR_SCHEMA_TOO_LARGE`, `LH_ERR_SCHEMA_INVALID`
 */
export function parseFormattedOutput(format: OutputFormat, text: string): unknown {
  return validator().parse(format, text);
}

/** The documented fallback for a binding without `chat`: the LoLLMs-style template over `generate`. */
async function fallbackChat(model: ChatModel, messages: readonly ChatMessage[], options: ChatOptions): Promise<ChatResult> {
  const { tools, toolChoice, ...generateOptions } = options;
  const rendered = renderChatFallback(messages, { ...(tools ? { tools } : {}), ...(toolChoice ? { toolChoice } : {}) });
  const format = rendered.format ?? generateOptions.format;
  const offered = rendered.toolsOffered;
  // Tool-call JSON must not stream to the client as answer text: hold chunks back while tools are offered.
  const onChunk = offered ? undefined : generateOptions.onChunk;
  const { onChunk: _drop, ...rest } = generateOptions;
  const generated = await model.generate(rendered.prompt, {
    ...rest,
    stop: [...(generateOptions.stop ?? []), ...rendered.stop],
    ...(format ? { format } : {}),
    ...(onChunk ? { onChunk } : {}),
  });
  if (!offered) return generated;
  const parsed = parseChatFallbackOutput(generated.text, tools ?? []);
  if (parsed.toolCalls) return { ...generated, text: '', toolCalls: parsed.toolCalls, stopReason: 'toolCalls' };
  // Not a call after all: the held-back text is the answer, sent now in one piece.
  if (generated.text !== '') generateOptions.onChunk?.(generated.text);
  return generated;
}
