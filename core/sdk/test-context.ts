/**
 * `createTestContext` (exported by `lollms-host/testing`): a whole `ProcessorContext` in plain JavaScript, for a
 * processor author's unit tests without a host, a model or a sandbox. The model, the user and the other
 * personalities answer from the test's script; what the sandbox itself does is done the same way here:
 * - `ctx.chat` runs the tool loop (the handlers run, their results go back to the scripted model, each call is a
 *   step start and end with the same metadata as on the wire, `maxToolRounds` ends it with `LH_ERR_TOOL_ROUNDS`;
 *   with `schema` and tools, a last round without tools gives the value);
 * - `ctx.state` is a plain object the test reads afterwards; `ctx.store` keeps JSON copies, checks keys and a quota;
 * - values cross as copies (JSON), `cancel()` makes every later call throw a `CancelledError`;
 * - every message is recorded with its `MSG_TYPE` number and name.
 *
 * Not done here: schemas are not validated (the host does it with the real model), no limits of time, memory
 * or host calls apply. Test those through a real host (`startTestHost`).
 */
import {
  CancelledError,
  MSG_TYPE,
  msgTypeName,
  PluginError,
  type ChatMessage,
  type ModelInfo,
  type PersonalityView,
  type ProcessorChatOptions,
  type ProcessorContext,
  type ProcessorGenerateOptions,
  type ProcessorStore,
  type SettingValue,
  type ToolCall,
  type ToolChoice,
  type ToolDefinition,
  type AskOptions,
  type JsonSchema,
} from '../../plugin-api/index.js';

/** The options of one scripted chat round (what the host's model would get). */
export interface TestChatRound {
  /** 1 for the first round of a `ctx.chat` call, then 2, 3... */
  round: number;
  /** The tools offered (without their handlers); empty when the round offers none. */
  tools: ToolDefinition[];
  toolChoice?: ToolChoice;
  /** The schema the answer must follow, in the round that gives the formatted answer. */
  schema?: JsonSchema;
  grammar?: string;
  maxTokens?: number;
}

/** What a scripted chat round answers: text, tool calls (ids are made when left out), and/or a value for a schema. */
export type TestChatReply = string | { text?: string; toolCalls?: Array<{ id?: string; name: string; arguments?: unknown }>; value?: unknown };

export interface TestContextOptions {
  /** `ctx.settings` (default none). */
  settings?: Record<string, SettingValue>;
  /** Fields of `ctx.personality` (the rest are the host's defaults). */
  personality?: Partial<PersonalityView>;
  /** `ctx.model` (default `{ name: 'test-model', contextSize: 2048 }`). */
  model?: ModelInfo;
  /** The discussion's state at the start (copied). */
  state?: Record<string, unknown>;
  /** The store's entries at the start (copied). */
  store?: Record<string, unknown>;
  /** `personality_store_max_bytes` (default 1 MiB). */
  storeMaxBytes?: number;
  /**
   * Answers `ctx.generate`. With a `schema`, return the value (or its JSON text). Default: `''`, or `{}` for a schema.
   */
  generate?: (prompt: string, options: ProcessorGenerateOptions) => unknown;
  /** Answers each round of `ctx.chat`. Default: `''`. */
  chat?: (messages: ChatMessage[], round: TestChatRound) => TestChatReply | Promise<TestChatReply>;
  /** One vector per text for `ctx.embed`. Default: a small vector made from the text's characters (equal texts, equal vectors). */
  embed?: (text: string) => number[];
  /** Answers `ctx.ask`. Default: none, so `ctx.ask` throws `LH_ERR_ASK_UNAVAILABLE` as over the OpenAI-compatible API. */
  ask?: (question: string, options: AskOptions) => string | Promise<string>;
  /** Answers `ctx.callPersonality`. Default: none, so it throws `LH_ERR_PERSONALITY_NOT_FOUND`. */
  callPersonality?: (path: string, prompt: string) => string | Promise<string>;
  /** Tokens of `ctx.tokenize` (default: one per character, its code). */
  tokenize?: (text: string) => number[];
  /** `sandbox_max_tool_rounds` (default 10). */
  maxToolRounds?: number;
}

/** One message the processor sent (`generation_message` on the wire, or a `text_chunk`). */
export interface TestContextMessage {
  type: number;
  typeName: string;
  content: string;
  metadata: Record<string, unknown>;
}

export interface TestContext extends ProcessorContext {
  /** Every message sent, in order (chunks included, as `MSG_TYPE_CHUNK`). */
  readonly messages: TestContextMessage[];
  /** The text of every `MSG_TYPE_CHUNK` (from `ctx.chunk` and `stream: true`), in order. */
  readonly chunks: string[];
  /** Every question asked with `ctx.ask`, in order. */
  readonly questions: Array<{ question: string; choices?: string[] }>;
  /** Every `ctx.log` / `console` call's arguments. */
  readonly logs: unknown[][];
  /** The store's entries now (copies). */
  storeContents(): Record<string, unknown>;
  /** Cancel, as a client would: `signal.aborted` turns true and every later call throws a `CancelledError`. */
  cancel(): void;
}

const DEFAULT_PERSONALITY: PersonalityView = {
  name: 'test',
  folder: 'test',
  author: 'test',
  version: '1.0.0',
  language: 'english',
  category: 'generic',
  user_message_prefix: '!@> User:\n',
  ai_message_prefix: '!@> Assistant:\n',
  link_text: '\n',
  anti_prompts: ['!@>'],
  personality_conditioning: '',
  model_temperature: 0.7,
  model_n_predicts: 1024,
  model_top_k: 50,
  model_top_p: 0.95,
  model_repeat_penalty: 1.1,
  model_repeat_last_n: 40,
};

/** A JSON copy, as every value that crosses the sandbox boundary is. */
function copy<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** A deterministic unit vector of 16 numbers from the characters of `text`. */
function charVector(text: string): number[] {
  const v = new Array<number>(16).fill(0);
  for (let i = 0; i < text.length; i++) v[(text.charCodeAt(i) + i) % 16]! += 1;
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

/** The text a tool's result goes back to the model as: a string as is, anything else as JSON. */
function toolResultText(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value ?? null) ?? 'null';
}

/** Why `key` cannot be a store key, or undefined (the host's rule). */
function storeKeyProblem(key: string): string | undefined {
  if (key.length === 0 || key.length > 256) return 'a store key is 1 to 256 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'a store key has no control characters';
  return undefined;
}

/** A `ProcessorContext` for unit tests; see the module comment. */
export function createTestContext(options: TestContextOptions = {}): TestContext {
  const messages: TestContextMessage[] = [];
  const chunks: string[] = [];
  const questions: Array<{ question: string; choices?: string[] }> = [];
  const logs: unknown[][] = [];
  const signal = { aborted: false };
  const entries = new Map<string, string>(Object.entries(options.store ?? {}).map(([k, v]) => [k, JSON.stringify(v)]));
  const storeMax = options.storeMaxBytes ?? 1024 * 1024;
  const maxToolRounds = options.maxToolRounds ?? 10;
  let callIds = 0;

  const live = () => {
    if (signal.aborted) throw new CancelledError();
  };
  const send = (type: number, content: string, metadata: Record<string, unknown> = {}) => {
    live();
    if (type === MSG_TYPE.MSG_TYPE_CHUNK) chunks.push(content);
    messages.push({ type, typeName: msgTypeName(type) ?? String(type), content, metadata: copy(metadata) });
  };
  const storeBytes = (map: ReadonlyMap<string, string>) => [...map].reduce((n, [k, json]) => n + Buffer.byteLength(k) + Buffer.byteLength(json), 0);
  const checkKey = (key: string) => {
    const problem = storeKeyProblem(String(key));
    if (problem) throw new PluginError('LH_ERR_STORE_KEY', `ctx.store: ${problem}`);
    return String(key);
  };

  const store: ProcessorStore = {
    async get<T>(key: string) {
      live();
      const json = entries.get(checkKey(key));
      return json === undefined ? undefined : (JSON.parse(json) as T);
    },
    async set(key: string, value: unknown) {
      live();
      const name = checkKey(key);
      if (value === undefined || typeof value === 'function') throw new TypeError('ctx.store.set: the value must be JSON (use ctx.store.delete to remove a key)');
      const json = JSON.stringify(value); // throws a TypeError for a cycle or a BigInt, as in the sandbox
      const next = new Map(entries).set(name, json);
      const bytes = storeBytes(next);
      if (bytes > storeMax) throw new PluginError('LH_ERR_STORE_QUOTA', `ctx.store.set: the store would hold ${bytes} bytes, more than its quota of ${storeMax} bytes; nothing was written`);
      entries.set(name, json);
    },
    async delete(key: string) {
      live();
      return entries.delete(checkKey(key));
    },
    async keys(prefix = '') {
      live();
      return [...entries.keys()].filter((k) => k.startsWith(prefix)).sort();
    },
  };

  const generate = async (prompt: string, generateOptions: ProcessorGenerateOptions = {}): Promise<unknown> => {
    live();
    if (generateOptions.schema !== undefined && generateOptions.grammar !== undefined) throw new TypeError('ctx.generate: the options schema and grammar cannot be combined');
    const answer = await options.generate?.(prompt, copy(generateOptions));
    live();
    if (generateOptions.schema !== undefined) return copy(typeof answer === 'string' ? JSON.parse(answer) : (answer ?? {}));
    const text = answer === undefined ? '' : String(answer);
    if (generateOptions.stream) send(MSG_TYPE.MSG_TYPE_CHUNK, text);
    return text;
  };

  const chat = async (input: readonly ChatMessage[], chatOptions: ProcessorChatOptions = {}): Promise<unknown> => {
    live();
    const { tools = [], schema, grammar, onMessage } = chatOptions;
    if (schema !== undefined && grammar !== undefined) throw new TypeError('ctx.chat: the options schema and grammar cannot be combined');
    const rounds = Math.min(chatOptions.maxToolRounds ?? maxToolRounds, maxToolRounds);
    const history: ChatMessage[] = copy([...input]);
    const definitions = tools.map(({ handler: _handler, ...definition }) => copy(definition));
    const added = (message: ChatMessage) => {
      history.push(message);
      onMessage?.(copy(message));
    };
    let choice = chatOptions.toolChoice;
    for (let round = 1; ; round++) {
      const toolsLive = tools.length > 0 && choice !== 'none';
      const formatted = schema !== undefined && !toolsLive;
      const reply = await options.chat?.(copy(history), {
        round,
        tools: tools.length > 0 ? copy(definitions) : [],
        ...(tools.length > 0 && choice !== undefined ? { toolChoice: choice } : {}),
        ...(formatted ? { schema } : {}),
        ...(grammar !== undefined && !toolsLive ? { grammar } : {}),
        ...(chatOptions.maxTokens !== undefined ? { maxTokens: chatOptions.maxTokens } : {}),
      });
      live();
      const parts = typeof reply === 'string' || reply === undefined ? { text: reply ?? '' } : reply;
      const text = parts.text ?? '';
      const calls: ToolCall[] = (parts.toolCalls ?? []).map((c) => ({ id: c.id ?? `call_${++callIds}`, name: c.name, arguments: copy(c.arguments ?? {}) }));
      if (calls.length === 0) {
        if (schema !== undefined && toolsLive) {
          if (round >= rounds) throw new PluginError('LH_ERR_TOOL_ROUNDS', `ctx.chat: no formatted answer within ${rounds} rounds (maxToolRounds)`);
          choice = 'none';
          continue;
        }
        added({ role: 'assistant', content: text });
        if (schema !== undefined) return copy(parts.value !== undefined ? parts.value : JSON.parse(text || '{}'));
        if (chatOptions.stream) send(MSG_TYPE.MSG_TYPE_CHUNK, text);
        return text;
      }
      if (round >= rounds) throw new PluginError('LH_ERR_TOOL_ROUNDS', `ctx.chat: the model still called tools after ${rounds} rounds (maxToolRounds)`);
      added({ role: 'assistant', content: text, toolCalls: calls });
      for (const call of calls) {
        const toolCall = { id: call.id, name: call.name, arguments: call.arguments };
        send(MSG_TYPE.MSG_TYPE_STEP_START, `Calling ${call.name}`, { tool_call: toolCall });
        let ok = true;
        let content: string;
        try {
          const tool = tools.find((t) => t.name === call.name);
          if (!tool) throw new Error(`no tool named ${call.name}`);
          content = toolResultText(await tool.handler(copy(call.arguments)));
        } catch (error) {
          if (error instanceof CancelledError || signal.aborted) throw error;
          ok = false;
          content = JSON.stringify({ error: error instanceof Error ? error.message : String(error) });
        }
        send(MSG_TYPE.MSG_TYPE_STEP_END, `Calling ${call.name}`, { status: ok, tool_call: toolCall, result: content.slice(0, 4096) });
        added({ role: 'tool', content, toolCallId: call.id, name: call.name });
      }
      // A forcing choice applies to the first round: the model may then answer with the results.
      if (choice !== 'none') choice = undefined;
    }
  };

  const ctx = {
    messages,
    chunks,
    questions,
    logs,
    signal,
    settings: Object.freeze(copy(options.settings ?? {})),
    personality: Object.freeze({ ...DEFAULT_PERSONALITY, ...copy(options.personality ?? {}) }),
    model: Object.freeze(copy(options.model ?? { name: 'test-model', contextSize: 2048 })),
    state: copy(options.state ?? {}),
    store,
    generate,
    chat,
    async embed(texts: readonly string[]) {
      live();
      if (texts.length > 64) throw new RangeError('ctx.embed texts has more than 64 entries');
      return texts.map((t) => copy((options.embed ?? charVector)(t)));
    },
    async ask(question: string, askOptions: AskOptions = {}) {
      live();
      questions.push({ question, ...(askOptions.choices ? { choices: [...askOptions.choices] } : {}) });
      if (!options.ask) throw new PluginError('LH_ERR_ASK_UNAVAILABLE', 'ctx.ask: this test context has no user to ask (give createTestContext an ask option)');
      const answer = await options.ask(question, copy(askOptions));
      live();
      if (askOptions.choices && !askOptions.choices.includes(answer)) throw new Error(`the test's answer "${answer}" is not one of the choices`);
      return answer;
    },
    async callPersonality(path: string, prompt: string) {
      live();
      if (!options.callPersonality) throw new PluginError('LH_ERR_PERSONALITY_NOT_FOUND', `personality "${path}" not found (give createTestContext a callPersonality option)`);
      return String(await options.callPersonality(path, prompt));
    },
    async tokenize(text: string) {
      live();
      return (options.tokenize ?? ((t: string) => Array.from(t, (c) => c.codePointAt(0)!)))(text);
    },
    async detokenize(tokens: number[]) {
      live();
      return String.fromCodePoint(...tokens);
    },
    chunk: (text: string) => send(MSG_TYPE.MSG_TYPE_CHUNK, text),
    full: (text: string) => send(MSG_TYPE.MSG_TYPE_FULL, text),
    fullInvisibleToAi: (text: string) => send(MSG_TYPE.MSG_TYPE_FULL_INVISIBLE_TO_AI, text),
    fullInvisibleToUser: (text: string) => send(MSG_TYPE.MSG_TYPE_FULL_INVISIBLE_TO_USER, text),
    exception: (text: string) => send(MSG_TYPE.MSG_TYPE_EXCEPTION, text),
    warning: (text: string) => send(MSG_TYPE.MSG_TYPE_WARNING, text),
    info: (text: string) => send(MSG_TYPE.MSG_TYPE_INFO, text),
    step: (text: string) => send(MSG_TYPE.MSG_TYPE_STEP, text),
    stepStart: (text: string) => send(MSG_TYPE.MSG_TYPE_STEP_START, text),
    stepProgress: (text: string, progress: number) => send(MSG_TYPE.MSG_TYPE_STEP_PROGRESS, text, { progress }),
    stepEnd: (text: string, success = true) => send(MSG_TYPE.MSG_TYPE_STEP_END, text, { status: success }),
    json: (title: string, data: unknown) => send(MSG_TYPE.MSG_TYPE_JSON_INFOS, JSON.stringify(data), { title }),
    ref: (text: string) => send(MSG_TYPE.MSG_TYPE_REF, text),
    code: (text: string) => send(MSG_TYPE.MSG_TYPE_CODE, text),
    ui: (html: string) => send(MSG_TYPE.MSG_TYPE_UI, html),
    newMessage: (text: string, type = 1) => send(MSG_TYPE.MSG_TYPE_NEW_MESSAGE, text, { type }),
    finishedMessage: (text = '') => send(MSG_TYPE.MSG_TYPE_FINISHED_MESSAGE, text),
    log: (...args: unknown[]) => void logs.push(args),
    storeContents: () => Object.fromEntries([...entries].map(([k, json]) => [k, JSON.parse(json) as unknown])),
    cancel: () => void (signal.aborted = true),
  };
  return ctx as unknown as TestContext;
}
