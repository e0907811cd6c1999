/**
 * A model served by a pool of OpenAI-compatible endpoints: `generate` streams from `/v1/completions`, `chat`
 * from `/v1/chat/completions`, `embed` asks `/v1/embeddings`, and `tokenize`/`detokenize` use the engines'
 * `/tokenize` and `/detokenize` routes (llama-server's, vLLM's, lollms-host's) when one endpoint has them; the
 * methods are left out otherwise, and the host estimates token counts (plugin API 1.1).
 *
 * Stop strings are sent to the engine (it stops at once and frees its slot) and applied here too, with the
 * plugin API's case-insensitive filter, so the contract is the same as llama_cpp's whatever the engine does.
 */
import {
  StopStringFilter,
  type ChatMessage,
  type ChatOptions,
  type ChatResult,
  type GenerateOptions,
  type GenerateResult,
  type LoadedModel,
  type ModelStatus,
  type OutputFormat,
  type StopReason,
  type ToolCall,
  type ToolChoice,
} from 'lollms-host/plugin-api';
import { createHash } from 'node:crypto';
import { clip, remoteError } from './errors.js';
import { EngineFailure, requestJson } from './http.js';
import type { Endpoint, EndpointPool } from './pool.js';
import { streamEvents } from './stream.js';

/** Tool calls one answer may make, at most. */
const MAX_TOOL_CALLS = 128;
/** The longest arguments text of one tool call. */
const MAX_TOOL_ARGUMENT_CHARS = 1024 * 1024;
/** Most tokens accepted from a tokenize answer. */
const MAX_TOKENS = 4 * 1024 * 1024;

/** Options of `RemoteModel`. */
export interface RemoteModelOptions {
  name: string;
  contextSize: number;
  pool: EndpointPool;
  idleTimeoutMs: number;
  /** Time a tokenize, detokenize or embeddings request may take. */
  requestTimeoutMs: number;
}

interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number } | null;
}

interface PartialToolCall {
  id: string;
  name: string;
  arguments: string;
}

const NS_PER_MS = 1_000_000;

/** The endpoint's root (its base URL without `/v1`), where llama-server and vLLM serve `/tokenize`. */
export function rootOf(url: string): string {
  return url.replace(/\/v1$/, '');
}

function responseFormat(format: OutputFormat | undefined): Record<string, unknown> {
  if (!format) return {};
  if (format.type === 'json_object') return { response_format: { type: 'json_object' } };
  if (format.type === 'json_schema') return { response_format: { type: 'json_schema', json_schema: { name: format.name ?? 'output', schema: format.schema } } };
  throw remoteError('LH_ERR_FORMAT_INVALID', 'the openai_remote binding cannot pass a GBNF grammar: the OpenAI API has no field for one; use a JSON schema');
}

/** Sampling and stop fields, OpenAI's names plus llama.cpp's (`top_k`, `repeat_penalty`, `repeat_last_n`) that engines which do not know them ignore. */
function samplingBody(options: GenerateOptions): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (options.maxTokens !== undefined) body['max_tokens'] = options.maxTokens;
  if (options.temperature !== undefined) body['temperature'] = options.temperature;
  if (options.topP !== undefined) body['top_p'] = options.topP;
  if (options.topK !== undefined) body['top_k'] = options.topK;
  if (options.repeatPenalty !== undefined) body['repeat_penalty'] = options.repeatPenalty;
  if (options.repeatLastN !== undefined) body['repeat_last_n'] = options.repeatLastN;
  if (options.seed !== undefined && options.seed >= 0) body['seed'] = options.seed;
  const stop = options.stop?.filter((s) => s !== '');
  if (stop && stop.length > 0) body['stop'] = stop;
  return body;
}

/**
 * OpenAI's `user` field for a session: a hash of it, so that an engine that keys its prompt cache or its
 * fairness on `user` (lollms-host does) keeps sessions apart, without learning the host's client ids.
 */
function userOf(session: string | undefined): Record<string, string> {
  return session === undefined ? {} : { user: createHash('sha256').update(session).digest('hex').slice(0, 32) };
}

function openAIMessages(messages: readonly ChatMessage[]): unknown[] {
  return messages.map((m) => {
    if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId ?? '', content: m.content };
    if (m.role === 'assistant' && m.toolCalls && m.toolCalls.length > 0) {
      return {
        role: 'assistant',
        content: m.content === '' ? null : m.content,
        tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments ?? {}) } })),
      };
    }
    return { role: m.role, content: m.content, ...(m.name !== undefined ? { name: m.name } : {}) };
  });
}

function toolChoiceOf(choice: ToolChoice): unknown {
  return typeof choice === 'string' ? choice : { type: 'function', function: { name: choice.name } };
}

const stringOf = (value: unknown): string => (typeof value === 'string' ? value : '');

export class RemoteModel implements LoadedModel {
  readonly name: string;
  readonly contextSize: number;
  readonly #pool: EndpointPool;
  readonly #options: RemoteModelOptions;
  /** Aborted by `dispose`: running generations end with `abort`. */
  readonly #disposing = new AbortController();
  tokenize?: (text: string) => Promise<number[]>;
  detokenize?: (tokens: readonly number[]) => Promise<string>;

  constructor(options: RemoteModelOptions) {
    this.name = options.name;
    this.contextSize = options.contextSize;
    this.#pool = options.pool;
    this.#options = options;
    if (options.pool.endpoints.some((e) => e.canTokenize)) {
      this.tokenize = (text) => this.#tokenize(text);
      this.detokenize = (tokens) => this.#detokenize(tokens);
    }
  }

  status(): ModelStatus {
    return { endpoints: this.#pool.status() };
  }

  generate(prompt: string, options: GenerateOptions = {}): Promise<GenerateResult> {
    const format = responseFormat(options.format);
    return this.#stream('completions', options, (endpoint) => ({
      model: endpoint.remoteModel,
      prompt,
      stream: true,
      stream_options: { include_usage: true },
      ...userOf(options.session),
      ...samplingBody(options),
      ...format,
    }));
  }

  chat(messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<ChatResult> {
    const format = responseFormat(options.format);
    const tools = options.tools && options.tools.length > 0 ? options.tools : undefined;
    return this.#stream('chat/completions', options, (endpoint) => ({
      model: endpoint.remoteModel,
      messages: openAIMessages(messages),
      stream: true,
      stream_options: { include_usage: true },
      ...userOf(options.session),
      ...samplingBody(options),
      ...format,
      ...(tools
        ? {
            tools: tools.map((t) => ({ type: 'function', function: { name: t.name, ...(t.description !== undefined ? { description: t.description } : {}), parameters: t.parameters ?? { type: 'object', properties: {} } } })),
            ...(options.toolChoice !== undefined ? { tool_choice: toolChoiceOf(options.toolChoice) } : {}),
          }
        : {}),
    }));
  }

  /** One streamed request through the pool: chunks through the stop filter, reasoning and tool calls gathered. */
  async #stream(path: 'completions' | 'chat/completions', options: ChatOptions, body: (endpoint: Endpoint) => Record<string, unknown>): Promise<ChatResult> {
    if (this.#disposing.signal.aborted) throw remoteError('LH_ERR_MODEL_DISPOSED', `model ${this.name} was unloaded`);
    const outer = options.signal ? AbortSignal.any([options.signal, this.#disposing.signal]) : this.#disposing.signal;
    const empty = (): ChatResult => ({ text: '', stopReason: 'abort', timings: { prompt_eval_count: 0, prompt_eval_duration: 0, eval_count: 0, eval_duration: 0 } });
    if (outer.aborted) return empty();
    const chat = path === 'chat/completions';
    try {
      return await this.#pool.run(options.session, outer, async ({ endpoint, firstToken }) => {
        const stopFound = new AbortController();
        const signal = AbortSignal.any([outer, stopFound.signal]);
        const filter = new StopStringFilter(options.stop ?? []);
        const calls = new Map<number, PartialToolCall>();
        let text = '';
        let reasoning = '';
        let finish: string | undefined;
        let usage: Usage | undefined;
        let pieces = 0;
        let stopped = false;
        const started = performance.now();
        let firstAt: number | undefined;
        const first = () => {
          if (firstAt !== undefined) return;
          firstAt = performance.now();
          firstToken();
        };
        const events = streamEvents({
          endpoint: endpoint.name,
          url: `${endpoint.settings.url}/${path}`,
          apiKey: endpoint.settings.apiKey,
          body: body(endpoint),
          signal,
          idleTimeoutMs: this.#options.idleTimeoutMs,
        });
        for await (const event of events) {
          if (event['usage'] && typeof event['usage'] === 'object') usage = event['usage'] as Usage;
          const choice = (Array.isArray(event['choices']) ? event['choices'][0] : undefined) as Record<string, unknown> | undefined;
          if (!choice) continue;
          let content: string;
          if (chat) {
            const delta = (choice['delta'] ?? {}) as Record<string, unknown>;
            content = stringOf(delta['content']);
            // llama-server and lollms-host send `reasoning_content`, vLLM and Ollama `reasoning`.
            const thought = stringOf(delta['reasoning_content']) || stringOf(delta['reasoning']);
            if (thought !== '') {
              first();
              reasoning += thought;
              options.onReasoningChunk?.(thought);
            }
            if (Array.isArray(delta['tool_calls'])) {
              first();
              this.#gatherToolCalls(calls, delta['tool_calls'] as unknown[]);
            }
          } else {
            content = stringOf(choice['text']);
          }
          if (content !== '') {
            first();
            pieces++;
            const { emit, stopped: hit } = filter.push(content);
            if (emit !== '') {
              text += emit;
              options.onChunk?.(emit);
            }
            if (hit) {
              stopped = true;
              // Close the request: the engine frees its slot now rather than after its own stop check.
              stopFound.abort();
              break;
            }
          }
          if (typeof choice['finish_reason'] === 'string') finish = choice['finish_reason'];
        }
        const aborted = outer.aborted && !stopped;
        if (!stopped && !aborted) {
          const rest = filter.flush();
          if (rest !== '') {
            text += rest;
            options.onChunk?.(rest);
          }
        }
        const ended = performance.now();
        const toolCalls = chat && !aborted ? this.#finishToolCalls(calls) : [];
        const stopReason: StopReason = aborted ? 'abort' : stopped ? 'stop' : toolCalls.length > 0 ? 'toolCalls' : finish === 'length' ? 'maxTokens' : 'eos';
        const cached = usage?.prompt_tokens_details?.cached_tokens;
        return {
          text,
          stopReason,
          ...(toolCalls.length > 0 ? { toolCalls } : {}),
          ...(reasoning !== '' ? { reasoning } : {}),
          timings: {
            prompt_eval_count: usage?.prompt_tokens ?? 0,
            prompt_eval_duration: Math.round(((firstAt ?? ended) - started) * NS_PER_MS),
            eval_count: usage?.completion_tokens ?? pieces,
            eval_duration: Math.round((ended - (firstAt ?? ended)) * NS_PER_MS),
            ...(typeof cached === 'number' ? { prompt_cached_count: cached } : {}),
          },
        };
      });
    } catch (error) {
      // A cancel while waiting for an endpoint is an abort, as with llama_cpp.
      if (outer.aborted && (error as { code?: string }).code === 'LH_ERR_CANCELLED') return empty();
      throw error;
    }
  }

  #gatherToolCalls(calls: Map<number, PartialToolCall>, deltas: unknown[]): void {
    for (const raw of deltas) {
      const delta = raw as { index?: unknown; id?: unknown; function?: { name?: unknown; arguments?: unknown } };
      const index = typeof delta.index === 'number' ? delta.index : calls.size;
      let call = calls.get(index);
      if (!call) {
        if (calls.size >= MAX_TOOL_CALLS) throw remoteError('LH_ERR_OUTPUT_INVALID', `the engine made more than ${MAX_TOOL_CALLS} tool calls`);
        call = { id: '', name: '', arguments: '' };
        calls.set(index, call);
      }
      if (typeof delta.id === 'string' && delta.id !== '') call.id = delta.id.slice(0, 256);
      const fn = delta.function;
      if (typeof fn?.name === 'string') call.name = (call.name + fn.name).slice(0, 256);
      if (typeof fn?.arguments === 'string') {
        call.arguments += fn.arguments;
        if (call.arguments.length > MAX_TOOL_ARGUMENT_CHARS) throw remoteError('LH_ERR_OUTPUT_INVALID', `a tool call's arguments are longer than ${MAX_TOOL_ARGUMENT_CHARS} characters`);
      }
    }
  }

  #finishToolCalls(calls: Map<number, PartialToolCall>): ToolCall[] {
    return [...calls.entries()].sort(([a], [b]) => a - b).map(([index, call]) => {
      let args: unknown = {};
      if (call.arguments.trim() !== '') {
        try {
          args = JSON.parse(call.arguments);
        } catch {
          throw remoteError('LH_ERR_OUTPUT_INVALID', `the arguments of tool call ${call.name || index} are not JSON: ${clip(call.arguments, 120)}`);
        }
      }
      return { id: call.id || `call_${index}`, name: call.name, arguments: args };
    });
  }

  /** A short JSON request through the pool (tokenize, detokenize, embeddings), retried once elsewhere. */
  #request(
    url: (endpoint: Endpoint) => string,
    body: (endpoint: Endpoint) => unknown,
    only?: (e: Endpoint) => boolean,
    classify: (failure: EngineFailure) => EngineFailure = (f) => f,
  ): Promise<unknown> {
    return this.#pool.run(
      undefined,
      this.#disposing.signal,
      async ({ endpoint, firstToken }) => {
        let answer: unknown;
        try {
          answer = await requestJson({ endpoint: endpoint.name, url: url(endpoint), apiKey: endpoint.settings.apiKey, body: body(endpoint), signal: this.#disposing.signal, timeoutMs: this.#options.requestTimeoutMs });
        } catch (error) {
          throw error instanceof EngineFailure ? classify(error) : error;
        }
        firstToken();
        return answer;
      },
      only,
    );
  }

  async #tokenize(text: string): Promise<number[]> {
    const answer = (await this.#request(
      (e) => `${rootOf(e.settings.url)}/tokenize`,
      // llama-server's fields, and vLLM's (`model`, `prompt`, `add_special_tokens`); each ignores the other's.
      (e) => ({ content: text, add_special: false, with_pieces: false, model: e.remoteModel, prompt: text, add_special_tokens: false }),
      (e) => e.canTokenize,
    )) as { tokens?: unknown };
    const tokens = answer?.tokens;
    if (!Array.isArray(tokens) || tokens.length > MAX_TOKENS || !tokens.every((t) => Number.isInteger(t))) {
      throw remoteError('LH_ERR_REMOTE_HTTP', 'the engine\'s /tokenize answer has no list of token ids');
    }
    return tokens as number[];
  }

  async #detokenize(tokens: readonly number[]): Promise<string> {
    const answer = (await this.#request(
      (e) => `${rootOf(e.settings.url)}/detokenize`,
      (e) => ({ tokens, model: e.remoteModel }),
      (e) => e.canTokenize,
    )) as { content?: unknown; prompt?: unknown };
    // llama-server answers `content`, vLLM `prompt`.
    const text = typeof answer?.content === 'string' ? answer.content : answer?.prompt;
    if (typeof text !== 'string') throw remoteError('LH_ERR_REMOTE_HTTP', 'the engine\'s /detokenize answer has no text');
    return text;
  }

  async embed(text: string): Promise<number[]> {
    // An engine without embeddings answers 400, 404 or 501: the model cannot embed, the endpoint is fine.
    const unsupported = (f: EngineFailure) =>
      f.status === 400 || f.status === 404 || f.status === 501
        ? new EngineFailure('LH_ERR_EMBEDDING_UNSUPPORTED', `the engine serving ${this.name} does not compute embeddings: ${f.message}`, { endpointFault: false, retryable: false, status: f.status })
        : f;
    const answer = (await this.#request((e) => `${e.settings.url}/embeddings`, (e) => ({ model: e.remoteModel, input: text, encoding_format: 'float' }), undefined, unsupported)) as {
      data?: Array<{ embedding?: unknown }>;
    };
    const embedding = answer?.data?.[0]?.embedding;
    if (!Array.isArray(embedding) || !embedding.every((v) => typeof v === 'number')) throw remoteError('LH_ERR_REMOTE_HTTP', 'the engine\'s embeddings answer holds no vector');
    return embedding as number[];
  }

  async dispose(): Promise<void> {
    this.#disposing.abort();
    this.#pool.dispose();
  }
}
