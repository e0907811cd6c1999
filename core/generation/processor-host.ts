/**
 * The host side of a processor's `ctx` for one turn (`SandboxHostApi`): model calls with the personality's
 * sampling as defaults, chat rounds through `chatRound`, embeddings, questions to the user through the sink,
 * calls of other personalities, the personality's store, and the messages the processor sends. Everything here
 * receives values the sandbox already decoded and bounded; what it sends back is plain JSON data.
 *
 * Tool calls of `ctx.chat` show on the client as steps: the host opens one (`MSG_TYPE_STEP_START`) for each call
 * the model makes, with `metadata.tool_call = {id, name, arguments}`, and closes it (`MSG_TYPE_STEP_END`, the same
 * content, `metadata.status`, `tool_call` and `result`) when the sandbox reports the handler's result.
 */
import { MSG_TYPE, msgTypeName, type ChatMessage, type ToolCall } from '../../plugin-api/index.js';
import { AskTimeout, AskUnavailable, ContextOverflow, TokenizerUnavailable, ToolRounds } from '../errors.js';
import type { BudgetCounts, SandboxBudget, SandboxHostApi, SandboxStoreRequest } from '../sandbox/index.js';
import { parseFormattedOutput } from './chat.js';
import { withOverrides, type PersonalitySampling } from './sampling.js';
import type { Turn } from './turn.js';
import type { GenerationSink } from './types.js';

/** The limits of the primitives a turn reads (host config keys). */
export interface ProcessorHostLimits {
  /** Most model rounds of one `ctx.chat` with tools (`sandbox_max_tool_rounds`). */
  maxToolRounds: number;
  /** Longest wait for an answer to `ctx.ask`, and its default (`sandbox_ask_timeout_ms`). */
  askTimeoutMs: number;
}

export interface ProcessorHostOptions {
  turn: Turn;
  sampling: PersonalitySampling;
  /** The personality's mounted path, for logs. */
  personality: string;
  /** The turn's budget: its wall clock stands still while a question waits. */
  budget: SandboxBudget;
  limits: ProcessorHostLimits;
  /** The personality's `ctx.store`. */
  store(request: SandboxStoreRequest): Promise<unknown>;
  /** Run another personality's turn (`ctx.callPersonality`); `counts` continue from the caller's and come back updated. */
  callPersonality(path: string, prompt: string, counts: BudgetCounts, signal: AbortSignal): Promise<string>;
}

/** How many digits of an embedding component cross back: float32 precision, in far fewer characters than a double's. */
const EMBEDDING_DIGITS = 9;
/** Tool calls remembered per turn between a round and the next (a turn of a well-behaved loop holds a few). */
const MAX_REMEMBERED_CALLS = 1024;

/** The tool calls of one turn between the round that made them and the round that answers them. */
class ToolSteps {
  /** Calls whose step is open, by id. */
  readonly #open = new Map<string, ToolCall>();
  /** The round that made each recent call, by id (to count the rounds of a loop across host calls). */
  readonly #rounds = new Map<string, number>();

  constructor(private readonly sink: GenerationSink) {}

  /**
   * The round a chat request is: one more than the round of the calls its last tool messages answer, or 1 for a
   * new chat. The sandbox counts its rounds too; this keeps the count honest if it does not.
   */
  roundOf(messages: readonly ChatMessage[]): number {
    let round = 0;
    for (let i = messages.length - 1; i >= 0 && messages[i]!.role === 'tool'; i--) {
      const id = messages[i]!.toolCallId;
      const made = id === undefined ? undefined : this.#rounds.get(id);
      if (made !== undefined) round = Math.max(round, made);
    }
    return round + 1;
  }

  started(calls: readonly ToolCall[], round: number): void {
    for (const call of calls) {
      if (this.#rounds.size >= MAX_REMEMBERED_CALLS) this.#rounds.delete(this.#rounds.keys().next().value!);
      this.#rounds.set(call.id, round);
      if (this.#open.size >= MAX_REMEMBERED_CALLS) this.#open.delete(this.#open.keys().next().value!);
      this.#open.set(call.id, call);
      this.sink.message({
        type: MSG_TYPE.MSG_TYPE_STEP_START,
        typeName: 'MSG_TYPE_STEP_START',
        content: stepText(call),
        metadata: { tool_call: { id: call.id, name: call.name, arguments: call.arguments } },
      });
    }
  }

  /** The sandbox reported a handler's result: close its step. False when no step of that id is open. */
  ended(id: string, status: boolean, result: string | undefined): boolean {
    const call = this.#open.get(id);
    if (!call) return false;
    this.#open.delete(id);
    this.sink.message({
      type: MSG_TYPE.MSG_TYPE_STEP_END,
      typeName: 'MSG_TYPE_STEP_END',
      content: stepText(call),
      metadata: { status, tool_call: { id: call.id, name: call.name, arguments: call.arguments }, ...(result !== undefined ? { result } : {}) },
    });
    return true;
  }
}

/** The text of a tool call's step (start and end carry the same, as lollms pairs them). */
function stepText(call: ToolCall): string {
  return `Calling ${call.name}`;
}

/** The host side of `ctx` for one turn of one personality. */
export function processorHost(options: ProcessorHostOptions): SandboxHostApi {
  const { turn, sampling, budget, limits } = options;
  const { model, counter } = turn;
  const log = turn.logger.child({ personality: options.personality });
  const loaded = model.model;
  const tools = new ToolSteps(turn.sink);
  const message = (type: number, content: string, metadata: Record<string, unknown>) =>
    turn.sink.message({ type, typeName: msgTypeName(type) ?? `MSG_TYPE_${type}`, content, metadata });
  return {
    async generate(prompt, generateOptions, callSignal) {
      const promptTokens = await counter.count(prompt);
      const room = loaded.contextSize - promptTokens;
      if (room < 1) throw ContextOverflow(`the prompt (${promptTokens} tokens) does not fit the model's context (${loaded.contextSize} tokens)`);
      const merged = withOverrides(sampling, generateOptions);
      const { format } = generateOptions;
      const result = await turn.generate(prompt, {
        ...merged,
        maxTokens: Math.min(merged.maxTokens, room),
        stop: [...sampling.stop, ...(generateOptions.stop ?? [])],
        signal: callSignal,
        ...(format ? { format } : {}),
        ...(generateOptions.stream ? { onChunk: (chunk: string) => turn.sink.draft(chunk) } : {}),
      });
      if (!format || callSignal.aborted) return result.text;
      // What the grammar forced is checked against the whole schema, whatever the binding enforced.
      return parseFormattedOutput(format, result.text);
    },
    async tokenize(text) {
      if (!loaded.tokenize) throw TokenizerUnavailable(`the binding "${model.binding}" cannot tokenize: its model has no tokenizer the host can reach`);
      return loaded.tokenize(text);
    },
    async detokenize(tokens) {
      if (!loaded.detokenize) throw TokenizerUnavailable(`the binding "${model.binding}" cannot detokenize: its model has no tokenizer the host can reach`);
      return loaded.detokenize(tokens);
    },
    async chat(messages, chatOptions, callSignal) {
      const round = tools.roundOf(messages);
      if (round > limits.maxToolRounds) {
        throw ToolRounds(`ctx.chat: the tool loop reached its limit of ${limits.maxToolRounds} rounds (sandbox_max_tool_rounds)`);
      }
      const { stop, stream, format, tools: offered, toolChoice, ...overrides } = chatOptions;
      // The personality's anti-prompts belong to its text template; a chat template ends its turns itself.
      const result = await turn.chat(messages, {
        ...withOverrides(sampling, overrides),
        ...(stop?.length ? { stop } : {}),
        ...(format ? { format } : {}),
        ...(offered?.length ? { tools: offered } : {}),
        ...(toolChoice !== undefined && offered?.length ? { toolChoice } : {}),
        signal: callSignal,
        ...(stream ? { onChunk: (chunk: string) => turn.sink.draft(chunk) } : {}),
      });
      if (result.toolCalls && result.toolCalls.length > 0 && !callSignal.aborted) tools.started(result.toolCalls, round);
      return {
        text: result.text,
        ...(result.toolCalls && result.toolCalls.length > 0 ? { toolCalls: result.toolCalls } : {}),
        ...(result.value !== undefined ? { value: result.value } : {}),
      };
    },
    async embed(texts, callSignal) {
      if (!loaded.embed) throw new Error(`the binding "${model.binding}" cannot embed`);
      const vectors: number[][] = [];
      for (const text of texts) {
        if (callSignal.aborted) break;
        const vector = await loaded.embed(text);
        vectors.push(vector.map((x) => Number(x.toPrecision(EMBEDDING_DIGITS))));
      }
      return vectors;
    },
    async ask(request, callSignal) {
      const ask = turn.sink.ask;
      if (!ask) throw AskUnavailable('ctx.ask: this request came without a channel back to the user (the OpenAI-compatible API); go on without the answer');
      const timeoutMs = Math.min(request.timeoutMs ?? limits.askTimeoutMs, limits.askTimeoutMs);
      const timeout = AbortSignal.timeout(timeoutMs);
      // The person's time to answer is not the workflow's: the turn's wall clock stands still meanwhile.
      const resume = budget.clock?.hold();
      try {
        return await ask.call(turn.sink, { question: request.question, ...(request.choices ? { choices: request.choices } : {}), timeoutMs }, AbortSignal.any([callSignal, timeout]));
      } catch (error) {
        if (timeout.aborted && !callSignal.aborted && !turn.signal.aborted) throw AskTimeout(`ctx.ask: the user did not answer within ${timeoutMs} ms`);
        throw error;
      } finally {
        resume?.();
      }
    },
    async callPersonality(path, prompt, counts, callSignal) {
      const content = `Asking ${path}`;
      message(MSG_TYPE.MSG_TYPE_STEP_START, content, { personality_call: { path } });
      let ok = false;
      try {
        const answer = await options.callPersonality(path, prompt, counts, callSignal);
        ok = true;
        return answer;
      } finally {
        message(MSG_TYPE.MSG_TYPE_STEP_END, content, { status: ok, personality_call: { path } });
      }
    },
    store: (request) => options.store(request),
    emit(type, content, metadata) {
      if (type === MSG_TYPE.MSG_TYPE_CHUNK) return turn.sink.draft(content);
      if (type === MSG_TYPE.MSG_TYPE_STEP_END && typeof metadata['tool_call_id'] === 'string') {
        const result = typeof metadata['result'] === 'string' ? metadata['result'] : undefined;
        if (tools.ended(metadata['tool_call_id'], metadata['status'] !== false, result)) return;
        // Not a call of this turn: an ordinary step end, without what it claimed.
        metadata = { status: metadata['status'] !== false };
      }
      message(type, content, metadata);
    },
    log(level, text) {
      log[level]({ source: 'processor' }, text);
    },
  };
}
