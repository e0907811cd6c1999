/**
 * The asynchronous host operations of a processor's `ctx` (generate, tokenize, detokenize, and since plugin API
 * 1.1 chat, embed, ask, callPersonality, store): how each one's arguments are decoded and bounded, how they
 * travel from the sandbox process to the host, and how the host API serves them.
 *
 * The same decoders run twice: in the sandbox process on what the guest sent (before anything reaches the
 * host), and in the host on what the sandbox process forwarded (a sandbox process is not trusted blindly:
 * after an isolate escape it would be the attacker's). They accept their own output, so the second run is a
 * check, not a change.
 */
import { checkChatRequest, ChatRequestError, OutputFormatError, TOOL_NAME_PATTERN, type ChatMessage, type ToolChoice, type ToolDefinition } from '../../plugin-api/index.js';
import { BadPayload, CodedPayload, decodeDetokenize, decodeGenerate, decodeGenerateOptions, decodeTokenize } from './bootstrap.js';
import type { HostOpName } from './protocol.js';
import type { BudgetCounts, SandboxAsk, SandboxChatOptions, SandboxGenerateOptions, SandboxHostApi, SandboxStoreRequest } from './types.js';

/** One decoded host operation. */
export type AsyncOp =
  | { op: 'generate'; prompt: string; options: SandboxGenerateOptions }
  | { op: 'tokenize'; text: string }
  | { op: 'detokenize'; tokens: number[] }
  | { op: 'chat'; messages: ChatMessage[]; options: SandboxChatOptions }
  | { op: 'embed'; texts: string[] }
  | { op: 'ask'; ask: SandboxAsk }
  | { op: 'callPersonality'; path: string; prompt: string }
  | { op: 'store'; request: SandboxStoreRequest };

export const HOST_OPS: ReadonlySet<HostOpName> = new Set<HostOpName>(['generate', 'tokenize', 'detokenize', 'chat', 'embed', 'ask', 'callPersonality', 'store']);

/** Bounds of the 1.1 operations' arguments (the payload limit bounds them all as well). */
export const HOST_OP_LIMITS = Object.freeze({
  /** Messages in one chat round. */
  chatMessages: 4096,
  /** Tools offered in one chat round. */
  tools: 128,
  /** Tool calls on one assistant message. */
  toolCallsPerMessage: 64,
  /** Texts of one `ctx.embed`. */
  embedTexts: 64,
  /** Characters of a question. */
  questionChars: 16 * 1024,
  /** Choices of a question, and characters of each. */
  choices: 32,
  choiceChars: 1000,
  /** Characters of a personality path. */
  pathChars: 4096,
  /** Characters of a store key (and of a `keys` prefix). */
  storeKeyChars: 256,
});

/** Why `key` cannot be a `ctx.store` key (1 to 256 characters, no control characters), or undefined. */
export function storeKeyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'a store key must be a non-empty string';
  if (key.length > HOST_OP_LIMITS.storeKeyChars) return `a store key is at most ${HOST_OP_LIMITS.storeKeyChars} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'a store key has no control characters';
  return undefined;
}

/** Decode a guest's operation from its payload (JSON of the argument list). */
export function decodeAsyncOp(op: HostOpName, payload: string): AsyncOp {
  if (op === 'generate') return { op, ...decodeGenerate(payload) };
  if (op === 'tokenize') return { op, text: decodeTokenize(payload) };
  if (op === 'detokenize') return { op, tokens: decodeDetokenize(payload) };
  let args: unknown;
  try {
    args = JSON.parse(payload);
  } catch {
    throw new BadPayload(`ctx.${op}: malformed call`);
  }
  return decodeOpArgs(op, args);
}

/** Decode an operation from its argument list (a guest's, or one forwarded by a sandbox process). */
export function decodeOpArgs(op: HostOpName, args: unknown): AsyncOp {
  if (!Array.isArray(args)) throw new BadPayload(`ctx.${op}: malformed call`);
  switch (op) {
    case 'generate':
    case 'tokenize':
    case 'detokenize':
      return decodeAsyncOp(op, JSON.stringify(args));
    case 'chat':
      return decodeChat(args);
    case 'embed':
      return { op, texts: decodeEmbed(args) };
    case 'ask':
      return { op, ask: decodeAsk(args) };
    case 'callPersonality':
      return decodeCallPersonality(args);
    case 'store':
      return { op, request: decodeStore(args) };
    default:
      throw new BadPayload('unknown host call');
  }
}

/** The argument list an operation travels as (the inverse of `decodeOpArgs`). */
export function encodeOpArgs(request: AsyncOp): unknown[] {
  switch (request.op) {
    case 'generate':
      return [request.prompt, request.options];
    case 'tokenize':
      return [request.text];
    case 'detokenize':
      return [request.tokens];
    case 'chat':
      return [request.messages, request.options];
    case 'embed':
      return [request.texts];
    case 'ask':
      return [request.ask.question, request.ask.choices ?? null, request.ask.timeoutMs ?? null];
    case 'callPersonality':
      return [request.path, request.prompt];
    case 'store': {
      const r = request.request;
      if (r.action === 'set') return ['set', r.key, JSON.parse(r.json) as unknown];
      if (r.action === 'keys') return ['keys', r.prefix];
      return [r.action, r.key];
    }
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

function decodeChat(args: unknown[]): AsyncOp {
  const [rawMessages, rawOptions] = args;
  if (args.length !== 2 || !Array.isArray(rawMessages)) throw new BadPayload('ctx.chat: malformed call');
  if (rawMessages.length > HOST_OP_LIMITS.chatMessages) throw new BadPayload(`ctx.chat: more than ${HOST_OP_LIMITS.chatMessages} messages`);
  const messages = rawMessages.map((raw, index): ChatMessage => {
    if (!isRecord(raw)) throw new BadPayload(`ctx.chat: message ${index} is not an object`);
    const message: ChatMessage = { role: raw['role'] as ChatMessage['role'], content: raw['content'] as string };
    if (raw['name'] !== undefined) message.name = raw['name'] as string;
    if (raw['toolCallId'] !== undefined) message.toolCallId = raw['toolCallId'] as string;
    const calls = raw['toolCalls'];
    if (calls !== undefined) {
      if (!Array.isArray(calls) || calls.length > HOST_OP_LIMITS.toolCallsPerMessage) {
        throw new BadPayload(`ctx.chat: message ${index}: toolCalls must be a list of at most ${HOST_OP_LIMITS.toolCallsPerMessage}`);
      }
      message.toolCalls = calls.map((call) => {
        if (!isRecord(call)) throw new BadPayload(`ctx.chat: message ${index}: each tool call must be an object`);
        return { id: call['id'] as string, name: call['name'] as string, arguments: call['arguments'] ?? {} };
      });
    }
    return message;
  });
  const options: SandboxChatOptions = decodeGenerateOptions('ctx.chat', rawOptions);
  const source = isRecord(rawOptions) ? rawOptions : {};
  if (source['tools'] !== undefined) {
    const tools = source['tools'];
    if (!Array.isArray(tools) || tools.length > HOST_OP_LIMITS.tools) throw new BadPayload(`ctx.chat: tools must be a list of at most ${HOST_OP_LIMITS.tools}`);
    options.tools = tools.map((tool, index): ToolDefinition => {
      if (!isRecord(tool) || typeof tool['name'] !== 'string' || !TOOL_NAME_PATTERN.test(tool['name'])) {
        throw new BadPayload(`ctx.chat: tool ${index}: the name must be 1 to 64 of a-z, A-Z, 0-9, _ and -`);
      }
      const definition: ToolDefinition = { name: tool['name'] };
      if (tool['description'] !== undefined) definition.description = tool['description'] as string;
      if (tool['parameters'] !== undefined) definition.parameters = tool['parameters'] as ToolDefinition['parameters'];
      return definition;
    });
  }
  if (source['toolChoice'] !== undefined) {
    const choice = source['toolChoice'];
    options.toolChoice = isRecord(choice) ? { name: choice['name'] as string } : (choice as ToolChoice);
  }
  try {
    checkChatRequest(messages, {
      ...(options.tools ? { tools: options.tools } : {}),
      ...(options.toolChoice !== undefined ? { toolChoice: options.toolChoice } : {}),
      ...(options.format ? { format: options.format } : {}),
    });
  } catch (error) {
    if (error instanceof ChatRequestError) throw new CodedPayload(error.code, `ctx.chat: ${error.message}`);
    if (error instanceof OutputFormatError) throw new CodedPayload(error.code, `ctx.chat: ${error.message}`);
    throw error;
  }
  return { op: 'chat', messages, options };
}

function decodeEmbed(args: unknown[]): string[] {
  const [texts] = args;
  if (args.length !== 1 || !Array.isArray(texts) || texts.length > HOST_OP_LIMITS.embedTexts || !texts.every((t): t is string => typeof t === 'string')) {
    throw new BadPayload(`ctx.embed: texts must be a list of at most ${HOST_OP_LIMITS.embedTexts} strings`);
  }
  return texts.slice();
}

function decodeAsk(args: unknown[]): SandboxAsk {
  const [question, choices, timeout] = args;
  if (args.length !== 3 || typeof question !== 'string') throw new BadPayload('ctx.ask: malformed call');
  if (question.trim() === '' || question.length > HOST_OP_LIMITS.questionChars) {
    throw new BadPayload(`ctx.ask: the question must be 1 to ${HOST_OP_LIMITS.questionChars} characters`);
  }
  const ask: SandboxAsk = { question };
  if (choices !== null && choices !== undefined) {
    const { choices: maxChoices, choiceChars } = HOST_OP_LIMITS;
    if (!Array.isArray(choices) || choices.length === 0 || choices.length > maxChoices
      || !choices.every((c): c is string => typeof c === 'string' && c.length > 0 && c.length <= choiceChars)) {
      throw new BadPayload(`ctx.ask: choices must be 1 to ${maxChoices} strings of 1 to ${choiceChars} characters`);
    }
    if (new Set(choices).size !== choices.length) throw new BadPayload('ctx.ask: the choices must differ');
    ask.choices = choices.slice();
  }
  if (timeout !== null && timeout !== undefined) {
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 1) throw new BadPayload('ctx.ask: timeoutMs must be a positive number of milliseconds');
    ask.timeoutMs = Math.ceil(timeout);
  }
  return ask;
}

function decodeCallPersonality(args: unknown[]): AsyncOp {
  const [path, prompt] = args;
  if (args.length !== 2 || typeof path !== 'string' || typeof prompt !== 'string') throw new BadPayload('ctx.callPersonality: malformed call');
  if (path.trim() === '' || path.length > HOST_OP_LIMITS.pathChars) throw new BadPayload(`ctx.callPersonality: the path must be 1 to ${HOST_OP_LIMITS.pathChars} characters`);
  return { op: 'callPersonality', path, prompt };
}

function decodeStore(args: unknown[]): SandboxStoreRequest {
  const [action, key, value] = args;
  if (action === 'keys') {
    if (args.length !== 2 || typeof key !== 'string' || key.length > HOST_OP_LIMITS.storeKeyChars) {
      throw new BadPayload(`ctx.store.keys: the prefix must be a string of at most ${HOST_OP_LIMITS.storeKeyChars} characters`);
    }
    return { action, prefix: key };
  }
  if (action !== 'get' && action !== 'set' && action !== 'delete') throw new BadPayload('ctx.store: malformed call');
  const problem = storeKeyProblem(key);
  if (problem) throw new CodedPayload('LH_ERR_STORE_KEY', `ctx.store.${action}: ${problem}`);
  if (action === 'set') {
    if (args.length !== 3 || value === undefined) throw new BadPayload('ctx.store.set: the value must be JSON');
    return { action, key: key as string, json: JSON.stringify(value) };
  }
  if (args.length !== 2) throw new BadPayload(`ctx.store.${action}: malformed call`);
  return { action, key: key as string };
}

/** A host API without an optional member: the primitive is not available in this host. */
function unavailable(what: string): never {
  throw new Error(`${what} is not available in this host`);
}

/**
 * Serve one decoded operation with the host API; resolves to the value the guest gets (JSON-able). `counts`
 * are the caller's counters for a personality call, updated in place with what the called turn used.
 */
export async function performAsyncOp(host: SandboxHostApi, request: AsyncOp, signal: AbortSignal, counts: BudgetCounts): Promise<unknown> {
  switch (request.op) {
    case 'generate': {
      const value = await host.generate(request.prompt, request.options, signal);
      if (request.options.format?.type !== 'json_schema' && typeof value !== 'string') throw new TypeError('the host generate returned no text');
      return value;
    }
    case 'tokenize':
      return Array.from(await host.tokenize(request.text), Number);
    case 'detokenize': {
      const text = await host.detokenize(request.tokens);
      if (typeof text !== 'string') throw new TypeError('the host detokenize returned no text');
      return text;
    }
    case 'chat': {
      if (!host.chat) unavailable('ctx.chat');
      const reply = await host.chat(request.messages, request.options, signal);
      return {
        text: reply.text,
        ...(reply.toolCalls && reply.toolCalls.length > 0 ? { toolCalls: reply.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments })) } : {}),
        ...(reply.value !== undefined ? { value: reply.value } : {}),
      };
    }
    case 'embed': {
      if (!host.embed) unavailable('ctx.embed');
      const vectors = await host.embed(request.texts, signal);
      if (!Array.isArray(vectors) || vectors.length !== request.texts.length) throw new TypeError('the host embed returned no vectors');
      return vectors.map((v) => Array.from(v, Number));
    }
    case 'ask': {
      if (!host.ask) unavailable('ctx.ask');
      const answer = await host.ask(request.ask, signal);
      if (typeof answer !== 'string') throw new TypeError('the host ask returned no answer');
      return answer;
    }
    case 'callPersonality': {
      if (!host.callPersonality) unavailable('ctx.callPersonality');
      const text = await host.callPersonality(request.path, request.prompt, counts, signal);
      if (typeof text !== 'string') throw new TypeError('the called personality returned no text');
      return text;
    }
    case 'store':
      if (!host.store) unavailable('ctx.store');
      return (await host.store(request.request)) ?? null;
  }
}
