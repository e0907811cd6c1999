/**
 * The response shapes of `POST /v1/chat/completions`: `chat.completion` and its stream of
 * `chat.completion.chunk`s, as OpenAI documents them, plus two extension fields for workflows:
 * `reasoning_content` (the de facto field for "thinking" text, as DeepSeek and llama.cpp's server send it) and
 * `lollms_message` in a delta (`lollms_messages` in a message): a workflow message whole.
 */
import type { ToolCall } from '../../../../plugin-api/index.js';
import type { GenerationOutcome, GenerationUsage } from '../../../generation/types.js';
import { PACKAGE_VERSION } from '../../../util/package-root.js';
import type { WireWorkflowMessage } from './reasoning.js';
import type { ResponseShape } from './serve.js';

/** `system_fingerprint` of every response: the host's version. */
export const SYSTEM_FINGERPRINT = `lollms-host-${PACKAGE_VERSION}`;

/** OpenAI's `usage`. `prompt_tokens_details.cached_tokens` when the binding reported cache reuse. */
export function usageOf(usage: GenerationUsage): Record<string, unknown> {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    ...(usage.cachedTokens !== undefined ? { prompt_tokens_details: { cached_tokens: usage.cachedTokens } } : {}),
  };
}

/** A tool call as OpenAI sends it: the arguments as JSON text. */
function wireToolCall(call: ToolCall, index?: number): Record<string, unknown> {
  return {
    ...(index !== undefined ? { index } : {}),
    id: call.id,
    type: 'function',
    function: { name: call.name, arguments: JSON.stringify(call.arguments ?? {}) },
  };
}

/** The outcome's finish reason on the wire (a cancelled generation is never answered). */
function finishReason(outcome: GenerationOutcome): string {
  return outcome.finishReason === 'cancelled' ? 'stop' : outcome.finishReason;
}

/** What every chunk and body of one response repeats. */
export interface ResponseHead {
  id: string;
  created: number;
  model: string;
}

/** The chat response shape of one request; `includeUsage` adds `usage: null` to every chunk, as OpenAI does. */
export function chatShape(head: ResponseHead, includeUsage: boolean): ResponseShape {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
    id: head.id,
    object: 'chat.completion.chunk',
    created: head.created,
    model: head.model,
    system_fingerprint: SYSTEM_FINGERPRINT,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  return {
    opening: () => [chunk({ role: 'assistant', content: '' })],
    content: (text) => chunk({ content: text }),
    reasoning: (text, message) => chunk({ reasoning_content: text, ...(message ? { lollms_message: message } : {}) }),
    closing(outcome, rest) {
      const chunks: unknown[] = [];
      if (rest !== '') chunks.push(chunk({ content: rest }));
      if (outcome.toolCalls?.length) chunks.push(chunk({ tool_calls: outcome.toolCalls.map((call, i) => wireToolCall(call, i)) }));
      chunks.push(chunk({}, finishReason(outcome)));
      return chunks;
    },
    usage: (outcome) => ({
      id: head.id,
      object: 'chat.completion.chunk',
      created: head.created,
      model: head.model,
      system_fingerprint: SYSTEM_FINGERPRINT,
      choices: [],
      usage: usageOf(outcome.usage),
    }),
    body(outcome, reasoning: string, messages: WireWorkflowMessage[]) {
      const calls = outcome.toolCalls ?? [];
      return {
        id: head.id,
        object: 'chat.completion',
        created: head.created,
        model: head.model,
        system_fingerprint: SYSTEM_FINGERPRINT,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              // OpenAI sends null content for an answer that is only tool calls.
              content: calls.length > 0 && outcome.text === '' ? null : outcome.text,
              refusal: null,
              ...(calls.length > 0 ? { tool_calls: calls.map((call) => wireToolCall(call)) } : {}),
              ...(reasoning !== '' ? { reasoning_content: reasoning } : {}),
              ...(messages.length > 0 ? { lollms_messages: messages } : {}),
            },
            logprobs: null,
            finish_reason: finishReason(outcome),
          },
        ],
        usage: usageOf(outcome.usage),
      };
    },
  };
}
