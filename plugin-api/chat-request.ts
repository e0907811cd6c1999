/**
 * The structural check of a chat request, shared by the host (before it calls a binding) and bindings (which
 * must not trust their caller). Pure, no runtime imports.
 */
import { TOOL_NAME_PATTERN, type ChatMessage, type ToolChoice, type ToolDefinition } from './chat.js';
import { checkJsonSchema, checkOutputFormat, type OutputFormatLimits } from './output-format.js';

/** A chat request that is malformed; the message says what and where (by message index), without echoing content. */
export class ChatRequestError extends Error {
  /** Always `LH_ERR_BAD_REQUEST`. */
  readonly code = 'LH_ERR_BAD_REQUEST' as const;

  constructor(message: string) {
    super(message);
    this.name = 'ChatRequestError';
  }
}

/** What `checkChatRequest` checks besides the messages. */
export interface ChatRequestParts {
  /** The tools offered. */
  tools?: readonly ToolDefinition[] | undefined;
  /** The tool choice. */
  toolChoice?: ToolChoice | undefined;
  /** An output format (checked with `checkOutputFormat`). */
  format?: unknown;
}

const ROLES = new Set(['system', 'user', 'assistant', 'tool']);

/**
 * Check a chat request's structure: roles, string contents, tool calls only on assistant messages and each
 * answered by one `tool` message right after (OpenAI's rule), tool names valid and unique, a named tool choice naming a
 * tool, tool parameter schemas and the output format within `limits`. Linear in the request's size.
 * @throws ChatRequestError `LH_ERR_BAD_REQUEST`, or OutputFormatError for a schema or format over the bounds
 */
export function checkChatRequest(messages: readonly ChatMessage[], parts: ChatRequestParts = {}, limits?: OutputFormatLimits): void {
  if (!Array.isArray(messages) || messages.length === 0) throw new ChatRequestError('a chat needs at least one message');
  const callIds = new Set<string>();
  /** Calls of the last assistant message not answered yet: tool messages must follow before anything else. */
  const unanswered = new Set<string>();
  messages.forEach((message, index) => {
    const at = `message ${index}`;
    if (typeof message !== 'object' || message === null) throw new ChatRequestError(`${at} is not an object`);
    if (!ROLES.has(message.role)) throw new ChatRequestError(`${at}: role must be system, user, assistant or tool`);
    if (message.role !== 'tool' && unanswered.size > 0) {
      throw new ChatRequestError(`${at}: the tool calls of the assistant message before must each be answered by a tool message first`);
    }
    if (typeof message.content !== 'string') throw new ChatRequestError(`${at}: content must be a string`);
    if (message.name !== undefined && typeof message.name !== 'string') throw new ChatRequestError(`${at}: name must be a string`);
    if (message.toolCalls !== undefined) {
      if (message.role !== 'assistant') throw new ChatRequestError(`${at}: only assistant messages carry toolCalls`);
      if (!Array.isArray(message.toolCalls)) throw new ChatRequestError(`${at}: toolCalls must be a list`);
      for (const call of message.toolCalls) {
        if (typeof call !== 'object' || call === null || typeof call.id !== 'string' || call.id === '' || typeof call.name !== 'string') {
          throw new ChatRequestError(`${at}: each tool call needs a string id and name`);
        }
        if (callIds.has(call.id)) throw new ChatRequestError(`${at}: tool call id ${JSON.stringify(call.id.slice(0, 64))} is used twice`);
        callIds.add(call.id);
        unanswered.add(call.id);
      }
    }
    if (message.role === 'tool') {
      if (typeof message.toolCallId !== 'string' || !unanswered.has(message.toolCallId)) {
        throw new ChatRequestError(`${at}: a tool message must answer a tool call of the assistant message before it, once (toolCallId)`);
      }
      unanswered.delete(message.toolCallId);
    } else if (message.toolCallId !== undefined) {
      throw new ChatRequestError(`${at}: only tool messages carry a toolCallId`);
    }
  });
  if (unanswered.size > 0) throw new ChatRequestError('the last assistant message\'s tool calls must each be answered by a tool message');

  const names = new Set<string>();
  if (parts.tools !== undefined) {
    if (!Array.isArray(parts.tools)) throw new ChatRequestError('tools must be a list');
    parts.tools.forEach((tool, index) => {
      if (typeof tool !== 'object' || tool === null || typeof tool.name !== 'string' || !TOOL_NAME_PATTERN.test(tool.name)) {
        throw new ChatRequestError(`tool ${index}: the name must be 1 to 64 of a-z, A-Z, 0-9, _ and -`);
      }
      if (names.has(tool.name)) throw new ChatRequestError(`tool ${index}: the name ${tool.name} is used twice`);
      names.add(tool.name);
      if (tool.description !== undefined && typeof tool.description !== 'string') throw new ChatRequestError(`tool ${tool.name}: description must be a string`);
      if (tool.parameters !== undefined) checkJsonSchema(tool.parameters, limits);
    });
  }
  const choice = parts.toolChoice;
  if (choice !== undefined && choice !== 'auto' && choice !== 'none' && choice !== 'required') {
    if (typeof choice !== 'object' || choice === null || typeof choice.name !== 'string') {
      throw new ChatRequestError('toolChoice must be "auto", "none", "required" or { name }');
    }
    if (!names.has(choice.name)) throw new ChatRequestError('toolChoice names a tool that is not in tools');
  }
  if (choice === 'required' && names.size === 0) throw new ChatRequestError('toolChoice "required" needs tools');
  if (parts.format !== undefined) checkOutputFormat(parts.format, limits);
}
