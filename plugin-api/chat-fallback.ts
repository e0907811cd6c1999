/**
 * The chat fallback template: how a host chats with a binding that has no `chat` (since 1.1). The messages
 * are rendered into one prompt in the LoLLMs style (`!@>role:` headers, the separator personalities use too),
 * and tools into an instruction block that asks for a JSON object; the output is then parsed back into text or
 * tool calls. A forced tool choice also yields a JSON-schema `format` that makes a grammar-capable binding
 * produce a valid call. Pure, no runtime imports.
 *
 * ```text
 * !@>system:
 * You are a helpful assistant.
 *
 * You can call these functions:
 * ...
 * !@>user:
 * What is the weather in Paris?
 * !@>assistant:
 * ```
 */
import type { ChatMessage, ToolCall, ToolChoice, ToolDefinition } from './chat.js';
import type { JsonSchema, OutputFormat } from './output-format.js';

/** The turn header prefix; also the stop string of a fallback generation. */
export const CHAT_FALLBACK_SEPARATOR = '!@>';

/** Options of `renderChatFallback`. */
export interface ChatFallbackOptions {
  /** Tools the model may call. */
  tools?: readonly ToolDefinition[];
  /** Whether it may or must call one; default `auto` with tools. */
  toolChoice?: ToolChoice;
}

/** A rendered chat, ready for `generate`. */
export interface ChatFallbackPrompt {
  /** The prompt, ending with the assistant's header. */
  prompt: string;
  /** Stop strings to pass to `generate` (the next turn's header). */
  stop: string[];
  /** For a forced tool choice: the format that constrains the output to a valid call; pass it to `generate`. */
  format?: OutputFormat;
  /** Whether the output may hold tool calls: parse it with `parseChatFallbackOutput`. */
  toolsOffered: boolean;
}

/** The JSON key of the tool-call object the template asks for. */
const CALLS_KEY = 'tool_calls';
/** Most calls in one forced answer (keeps a grammar-forced answer finite). */
const MAX_FORCED_CALLS = 16;

const header = (role: string) => `${CHAT_FALLBACK_SEPARATOR}${role}:\n`;

/**
 * The JSON schema of a tool-call answer, `{"tool_calls": [{"name": ..., "arguments": {...}}, ...]}`, with one
 * alternative per tool (its name as a constant, its parameters as the arguments' schema): a grammar made from
 * it lets the model produce only valid calls. `only` restricts it to one tool.
 */
export function toolCallsJsonSchema(tools: readonly ToolDefinition[], only?: string): JsonSchema {
  const chosen = only === undefined ? tools : tools.filter((t) => t.name === only);
  return {
    type: 'object',
    properties: {
      [CALLS_KEY]: {
        type: 'array',
        minItems: 1,
        maxItems: only === undefined ? MAX_FORCED_CALLS : 1,
        items: {
          oneOf: chosen.map((tool) => ({
            type: 'object',
            properties: { name: { const: tool.name }, arguments: tool.parameters ?? { type: 'object', properties: {} } },
            required: ['name', 'arguments'],
            additionalProperties: false,
          })),
        },
      },
    },
    required: [CALLS_KEY],
    additionalProperties: false,
  };
}

function toolBlock(tools: readonly ToolDefinition[], choice: ToolChoice): string {
  const lines = ['You can call these functions:'];
  for (const tool of tools) {
    const description = tool.description ? ` ${tool.description.trim()}` : '';
    lines.push(`- ${tool.name}:${description} Arguments (JSON schema): ${JSON.stringify(tool.parameters ?? { type: 'object', properties: {} })}`);
  }
  lines.push(
    `To call functions, answer with only this JSON object and nothing else: {"${CALLS_KEY}": [{"name": "<function name>", "arguments": {<arguments>}}]}`,
    'The results come back in tool messages; then answer the user.',
  );
  if (choice === 'required') lines.push('Call at least one function now.');
  else if (typeof choice === 'object') lines.push(`Call the function ${choice.name} now.`);
  return lines.join('\n');
}

/** The tool-call object an assistant message's calls are rendered as (what the template asks the model to write). */
function renderCalls(calls: readonly ToolCall[]): string {
  return JSON.stringify({ [CALLS_KEY]: calls.map((c) => ({ name: c.name, arguments: c.arguments })) });
}

/**
 * Render `messages` (and tools) into a prompt. System messages are gathered at the top (with the tool block
 * after them); tool results are rendered as `!@>tool:` turns naming the function and the call id. Linear in
 * the input. Check the request with `checkChatRequest` first.
 */
export function renderChatFallback(messages: readonly ChatMessage[], options: ChatFallbackOptions = {}): ChatFallbackPrompt {
  const tools = options.tools ?? [];
  const choice = options.toolChoice ?? 'auto';
  const toolsOffered = tools.length > 0 && choice !== 'none';
  const system = messages.filter((m) => m.role === 'system').map((m) => m.content.trim()).filter((t) => t !== '');
  if (toolsOffered) system.push(toolBlock(tools, choice));
  const parts: string[] = [];
  if (system.length > 0) parts.push(header('system'), system.join('\n\n'), '\n');
  const callNames = new Map<string, string>();
  for (const message of messages) {
    if (message.role === 'system') continue;
    if (message.role === 'tool') {
      const name = callNames.get(message.toolCallId ?? '') ?? message.name ?? 'function';
      parts.push(header('tool'), `Result of ${name} (${message.toolCallId ?? 'call'}):\n`, message.content, '\n');
      continue;
    }
    parts.push(header(message.role), message.content);
    if (message.role === 'assistant' && message.toolCalls && message.toolCalls.length > 0) {
      for (const call of message.toolCalls) callNames.set(call.id, call.name);
      parts.push(message.content === '' ? '' : '\n', renderCalls(message.toolCalls));
    }
    parts.push('\n');
  }
  parts.push(header('assistant'));
  const result: ChatFallbackPrompt = { prompt: parts.join(''), stop: [CHAT_FALLBACK_SEPARATOR], toolsOffered };
  if (toolsOffered && choice !== 'auto') {
    result.format = { type: 'json_schema', name: 'tool_calls', schema: toolCallsJsonSchema(tools, typeof choice === 'object' ? choice.name : undefined) };
  }
  return result;
}

/** Options of `parseChatFallbackOutput`. */
export interface ParseChatFallbackOptions {
  /** Makes the id of each call; default `call_` and 24 random characters. */
  newId?: () => string;
}

function randomId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let id = 'call_';
  for (let i = 0; i < 24; i++) id += alphabet[Math.floor(Math.random() * alphabet.length)];
  return id;
}

/**
 * Read a fallback generation's output: when it is the tool-call object (optionally in a ```json fence) and
 * every call names one of `tools`, the calls; otherwise the text as the answer. Arguments given as a JSON
 * string are parsed. Whether the arguments follow the tool's schema is for the caller to validate.
 */
export function parseChatFallbackOutput(
  text: string,
  tools: readonly ToolDefinition[],
  options: ParseChatFallbackOptions = {},
): { text: string; toolCalls?: ToolCall[] } {
  let body = text.trim();
  // A ```json fence around the object (string operations, not a regex: the text is a model's, of any size).
  if (body.startsWith('```') && body.endsWith('```') && body.length >= 6) {
    const firstLine = body.indexOf('\n');
    body = firstLine === -1 ? '' : body.slice(firstLine + 1, -3).trim();
  }
  if (!body.startsWith('{') || !body.endsWith('}')) return { text };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { text };
  }
  const calls = (parsed as Record<string, unknown> | null)?.[CALLS_KEY];
  if (!Array.isArray(calls) || calls.length === 0) return { text };
  const known = new Set(tools.map((t) => t.name));
  const newId = options.newId ?? randomId;
  const toolCalls: ToolCall[] = [];
  for (const call of calls) {
    const name = (call as Record<string, unknown> | null)?.['name'];
    if (typeof name !== 'string' || !known.has(name)) return { text };
    let args = (call as Record<string, unknown>)['arguments'] ?? {};
    if (typeof args === 'string') {
      try {
        args = JSON.parse(args);
      } catch {
        // Not JSON: keep the string; schema validation will say what is wrong.
      }
    }
    toolCalls.push({ id: newId(), name, arguments: args });
  }
  return { text: '', toolCalls };
}
