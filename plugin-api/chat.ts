/**
 * Chat messages and function calling (plugin API 1.1). The shapes follow OpenAI's chat API in camelCase, so
 * that a host, a binding and a client map onto each other one field at a time.
 */
import type { JsonSchema } from './output-format.js';

/** Who speaks a chat message. */
export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

/** One message of a chat, oldest first. */
export interface ChatMessage {
  /** `system`: instructions; `user`: the user; `assistant`: the model (earlier answers and tool calls); `tool`: a tool's result. */
  role: ChatRole;
  /** The text. For an assistant message that only calls tools, `''`. For `tool`, the result as text (JSON text is handed to the model as JSON). */
  content: string;
  /** `assistant` only: the tools it called, in order; each is answered by a `tool` message with its id, right after this message. */
  toolCalls?: ToolCall[];
  /** `tool` only: the `id` of the call this message answers. */
  toolCallId?: string;
  /** The speaker's name (`user`, `assistant`), or the tool's name (`tool`); informative, bindings may ignore it. */
  name?: string;
}

/** A function the model may call. */
export interface ToolDefinition {
  /** The name the model calls it by: 1 to 64 of `a-z A-Z 0-9 _ -` (OpenAI's rule). */
  name: string;
  /** What it does and when to use it; shown to the model. */
  description?: string;
  /** JSON schema of its arguments (an object schema); absent means no arguments (`{}`). */
  parameters?: JsonSchema;
}

/** A call the model made. */
export interface ToolCall {
  /** Unique within the chat; a `tool` message answers it by this id. */
  id: string;
  /** The `ToolDefinition.name` it calls. */
  name: string;
  /** The parsed arguments (a JSON value, normally an object), meant to follow the tool's `parameters`. */
  arguments: unknown;
}

/**
 * Whether the model may or must call a tool: `auto` (default with tools) lets it choose, `none` forbids
 * calls, `required` forces at least one call, `{ name }` forces a call of that tool.
 */
export type ToolChoice = 'auto' | 'none' | 'required' | { readonly name: string };

/** The tool-name rule of `ToolDefinition.name`. */
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
