/**
 * `POST /v1/chat/completions` bodies as generation requests: OpenAI's messages as the plugin API's
 * `ChatMessage`s, `response_format` as an output format, `tools` and `tool_choice` as the plugin API's, and
 * the fields the host refuses. Which generation runs is the route's to decide (the model: a `chat`; a
 * personality: a `personality` turn driven by the messages).
 */
import type { ChatMessage, JsonSchema, OutputFormat, ToolChoice, ToolDefinition } from '../../../../plugin-api/index.js';
import { MAX_TEXT_CHARS } from '../../../protocol/limits.js';
import { ApiError } from './errors.js';
import { rejectCommonUnsupported, rejectIfSet } from './params.js';
import type { ChatCompletionRequest, OpenAIMessage } from './schemas.js';

type Content = OpenAIMessage['content'];

/** The text of a message's content: a string, or its text parts joined by newlines. */
function contentText(content: Content, at: string): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  const texts: string[] = [];
  content.forEach((part, index) => {
    if (part.type !== 'text' || typeof part.text !== 'string') {
      throw new ApiError(
        'LH_ERR_UNSUPPORTED_PARAMETER',
        `${at}.content[${index}]: only text content parts are supported (got "${String(part.type).slice(0, 64)}")`,
        `${at}.content[${index}].type`,
      );
    }
    texts.push(part.text);
  });
  return texts.join('\n');
}

/** OpenAI's messages as chat messages (`developer` is a system message; tool-call arguments are parsed). */
export function toChatMessages(messages: readonly OpenAIMessage[]): ChatMessage[] {
  let chars = 0;
  const out = messages.map((message, index): ChatMessage => {
    const at = `messages[${index}]`;
    const content = contentText(message.content, at);
    chars += content.length;
    const named = message.role !== 'tool' && message.name != null ? { name: message.name } : {};
    switch (message.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content, ...named };
      case 'user':
        return { role: 'user', content, ...named };
      case 'tool':
        return { role: 'tool', content, toolCallId: message.tool_call_id };
      case 'assistant': {
        const calls = message.tool_calls ?? [];
        if (calls.length === 0) return { role: 'assistant', content, ...named };
        return {
          role: 'assistant',
          content,
          ...named,
          toolCalls: calls.map((call, i) => {
            chars += call.function.arguments.length;
            let args: unknown;
            try {
              args = call.function.arguments === '' ? {} : JSON.parse(call.function.arguments);
            } catch {
              throw new ApiError('LH_ERR_BAD_REQUEST', `${at}.tool_calls[${i}].function.arguments is not JSON`, `${at}.tool_calls[${i}].function.arguments`);
            }
            return { id: call.id, name: call.function.name, arguments: args };
          }),
        };
      }
    }
  });
  if (chars > MAX_TEXT_CHARS) throw new ApiError('LH_ERR_BAD_REQUEST', `messages: more than ${MAX_TEXT_CHARS} characters of content in all`, 'messages');
  return out;
}

/** `response_format` as an output format (`text`: none; a `json_schema` without a schema: any JSON object). */
export function formatOf(format: ChatCompletionRequest['response_format']): OutputFormat | undefined {
  if (!format || format.type === 'text') return undefined;
  if (format.type === 'json_object') return { type: 'json_object' };
  const { schema, name } = format.json_schema;
  if (schema === undefined) return { type: 'json_object' };
  // The schema is checked (bounds, plain JSON) by the generation service before the request takes a slot.
  return { type: 'json_schema', schema: schema as JsonSchema, ...(name !== undefined ? { name } : {}) };
}

/** `tools` as tool definitions. */
export function toolsOf(tools: ChatCompletionRequest['tools']): ToolDefinition[] | undefined {
  if (!tools || tools.length === 0) return undefined;
  return tools.map(({ function: f }) => ({
    name: f.name,
    ...(f.description !== undefined ? { description: f.description } : {}),
    ...(f.parameters !== undefined ? { parameters: f.parameters } : {}),
  }));
}

/** `tool_choice` as a tool choice. */
export function toolChoiceOf(choice: ChatCompletionRequest['tool_choice']): ToolChoice | undefined {
  if (choice == null) return undefined;
  return typeof choice === 'string' ? choice : { name: choice.function.name };
}

/** Refuse what the host does not serve (see docs/openai-api.md). */
export function rejectUnsupportedChat(body: ChatCompletionRequest): void {
  rejectCommonUnsupported(body);
  const raw = body as Record<string, unknown>;
  rejectIfSet(raw, 'logprobs', 'the engine path reports no token probabilities');
  rejectIfSet(raw, 'top_logprobs', 'the engine path reports no token probabilities');
  rejectIfSet(raw, 'functions', 'use tools (the functions field is deprecated)');
  rejectIfSet(raw, 'function_call', 'use tool_choice (the function_call field is deprecated)');
  rejectIfSet(raw, 'audio', 'this host generates text only');
  rejectIfSet(raw, 'web_search_options', 'this host has no web search');
  if (body.modalities && body.modalities.some((m) => m !== 'text')) {
    throw new ApiError('LH_ERR_UNSUPPORTED_PARAMETER', 'modalities: this host generates text only', 'modalities');
  }
}
