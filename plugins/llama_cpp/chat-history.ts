/**
 * Chat messages (plugin API) to node-llama-cpp's chat history. An assistant turn and the tool results that
 * follow it become one model response: its text, then each call with its result, which is how node-llama-cpp's
 * chat wrappers render function calling (so a request ending with tool results continues the model's turn,
 * and the model answers from the results). Consecutive assistant messages, as a tool loop sends them, join
 * the same response.
 */
import type { ChatHistoryItem, ChatModelFunctionCall, ChatModelFunctions, ChatModelResponse } from 'node-llama-cpp';
import type { ChatMessage, ToolDefinition } from 'lollms-host/plugin-api';
import { toGrammarSchema } from './json-schema-grammar.js';

/** A tool result's text as the model sees it: parsed when it is JSON (so it is not shown as an escaped string). */
function resultValue(content: string): unknown {
  const text = content.trim();
  if (text.startsWith('{') || text.startsWith('[')) {
    try {
      return JSON.parse(text);
    } catch {
      // not JSON after all
    }
  }
  return content;
}

/** The node-llama-cpp chat history of `messages` (checked with `checkChatRequest` before). */
export function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  const calls = new Map<string, ChatModelFunctionCall>();
  let response: ChatModelResponse | undefined; // the model turn still open (no user/system message since)
  for (const message of messages) {
    switch (message.role) {
      case 'system':
        history.push({ type: 'system', text: message.content });
        response = undefined;
        break;
      case 'user':
        history.push({ type: 'user', text: message.content });
        response = undefined;
        break;
      case 'assistant': {
        if (!response) {
          response = { type: 'model', response: [] };
          history.push(response);
        }
        if (message.content !== '') response.response.push(message.content);
        for (const call of message.toolCalls ?? []) {
          const item: ChatModelFunctionCall = { type: 'functionCall', name: call.name, params: call.arguments, result: undefined };
          calls.set(call.id, item);
          response.response.push(item);
        }
        break;
      }
      case 'tool': {
        const call = calls.get(message.toolCallId ?? '');
        if (call) call.result = resultValue(message.content);
        break;
      }
    }
  }
  return history;
}

/** node-llama-cpp's function definitions of `tools`, with parameter schemas translated for the grammar. */
export function toChatFunctions(tools: readonly ToolDefinition[]): ChatModelFunctions {
  const functions: Record<string, ChatModelFunctions[string]> = {};
  for (const tool of tools) {
    functions[tool.name] = {
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      // No parameters means no arguments (plugin API `ToolDefinition.parameters`): the grammar allows only `{}`.
      params: toGrammarSchema(tool.parameters ?? { type: 'object', properties: {}, additionalProperties: false }),
    };
  }
  return functions;
}
