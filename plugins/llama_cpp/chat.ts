/**
 * One chat turn on a leased sequence, through node-llama-cpp's `LlamaChat`: the model's chat wrapper renders
 * the messages (the GGUF's Jinja template, or the wrapper node-llama-cpp resolves), does function calling in
 * the model's own syntax, and grammars constrain formats and forced tool calls.
 *
 * The rendered chat is tokenized before `LlamaChat` runs, with its long pieces on the tokenizer thread
 * (`ModelTokenizer.prepare`), which also gives the prompt's size: a chat that does not fit in the context is
 * refused rather than silently cut, and generation stops at the end of the context.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { LlamaChat, type ChatWrapper, type LlamaContextSequence, type LlamaGrammar, type LlamaModel, type Token } from 'node-llama-cpp';
import { StopStringFilter, type ChatMessage, type ChatOptions, type ChatResult, type StopReason, type ToolCall } from 'lollms-host/plugin-api';
import { toChatFunctions, toChatHistory } from './chat-history.js';
import { BindingError, messageOf } from './errors.js';
import { ForcedToolCallChatWrapper } from './forced-tool-wrapper.js';
import type { ModelTokenizer } from './tokenizer.js';
import type { Utf8Guard } from './utf8-guard.js';

/** What a chat turn needs from its model. */
export interface ChatDeps {
  /** The model's name, for messages. */
  name: string;
  model: LlamaModel;
  contextSize: number;
  /** The model's chat wrapper. */
  wrapper: ChatWrapper;
  tokenizer: ModelTokenizer;
  /** The grammar of `options.format`, made by the caller (undefined without a format). */
  grammar: LlamaGrammar | undefined;
  /** The UTF-8 guard, used whenever a grammar may be active. */
  guard: Utf8Guard | undefined;
  /** Sampling defaults. */
  defaults: { temperature: number; topK: number; topP: number; repeatPenalty: number; repeatLastN: number };
}

/** A new tool call id: `call_` and 24 random characters, as OpenAI's look. */
function toolCallId(): string {
  return `call_${randomBytes(18).toString('base64url')}`;
}

/** Run one chat turn on `sequence`; `halt` stops it (the caller's signal, `dispose`). */
export async function runChat(
  deps: ChatDeps,
  sequence: LlamaContextSequence,
  messages: readonly ChatMessage[],
  options: ChatOptions,
  halt: AbortController,
): Promise<ChatResult> {
  const started = process.hrtime.bigint();
  const choice = options.toolChoice ?? 'auto';
  const tools = choice === 'none' ? [] : (options.tools ?? []);
  const forced = tools.length > 0 && choice !== 'auto';
  const offered = typeof choice === 'object' ? tools.filter((t) => t.name === choice.name) : tools;
  if (deps.grammar && offered.length > 0 && !forced) {
    throw new BindingError('LH_ERR_BAD_REQUEST', 'an output format cannot be combined with tools the model may call (toolChoice "auto"); use toolChoice "none" for the formatted answer');
  }
  const grammar = forced ? undefined : deps.grammar; // a forced call is constrained by its own grammar
  const functions = offered.length > 0 ? toChatFunctions(offered) : undefined;
  const wrapper = forced ? new ForcedToolCallChatWrapper(deps.wrapper) : deps.wrapper;
  const history = toChatHistory(messages);

  // Render as LlamaChat will (it answers in a model turn), and tokenize ahead, off the main thread.
  const rendered = history.at(-1)?.type === 'model' ? history : [...history, { type: 'model' as const, response: [] }];
  const { contextText } = wrapper.generateContextState({ chatHistory: rendered, ...(functions ? { availableFunctions: functions } : {}), documentFunctionParams: true });
  const preparing = deps.tokenizer.prepare(contextText);
  const prepared = await untilAborted(preparing, halt.signal);
  if (!prepared) {
    preparing.then((p) => p.release(), () => {});
    return emptyResult(started);
  }
  try {
    const promptTokens = prepared.tokens;
    if (promptTokens.length + 1 >= deps.contextSize) {
      throw new BindingError('LH_ERR_CONTEXT_OVERFLOW', `model ${deps.name}: the chat takes ${promptTokens.length} tokens, more than the context of ${deps.contextSize} can hold with room for an answer`);
    }
    const room = deps.contextSize - promptTokens.length - 1;
    const requested = options.maxTokens !== undefined && options.maxTokens > 0 ? Math.floor(options.maxTokens) : Infinity;
    // What LlamaChat will reuse of the sequence's cache (at least the last token is always evaluated again).
    const cached = Math.min(sequence.compareContextTokens(promptTokens).firstDifferentIndex, promptTokens.length - 1);
    return await generate(deps, sequence, history, options, halt, {
      started,
      promptTokens: promptTokens.length,
      cached,
      maxTokens: Math.min(requested, room),
      wrapper,
      grammar,
      functions,
      forced,
    });
  } finally {
    prepared.release();
  }
}

interface Plan {
  started: bigint;
  promptTokens: number;
  cached: number;
  maxTokens: number;
  wrapper: ChatWrapper;
  grammar: LlamaGrammar | undefined;
  functions: ReturnType<typeof toChatFunctions> | undefined;
  forced: boolean;
}

async function generate(
  deps: ChatDeps,
  sequence: LlamaContextSequence,
  history: ReturnType<typeof toChatHistory>,
  options: ChatOptions,
  halt: AbortController,
  plan: Plan,
): Promise<ChatResult> {
  const pieces: string[] = [];
  const reasoning: string[] = [];
  const filter = new StopStringFilter(options.stop ?? []);
  let hitStop = false;
  let firstTokenAt: bigint | undefined;
  const mark = () => { firstTokenAt ??= process.hrtime.bigint(); };
  const emit = (text: string) => {
    if (text === '') return;
    pieces.push(text);
    options.onChunk?.(text);
  };

  const penalty = options.repeatPenalty ?? deps.defaults.repeatPenalty;
  const lastN = Math.max(0, Math.floor(options.repeatLastN ?? deps.defaults.repeatLastN));
  const seed = options.seed === undefined || options.seed < 0 ? randomInt(0x7fffffff) : Math.floor(options.seed);
  const guard = deps.guard && (plan.grammar || plan.functions) ? deps.guard : undefined;
  const tail: Token[] = [];
  const untrack = guard ? trackEvaluatedTokens(sequence, tail) : () => {};
  const meter = sequence.tokenMeter.getState();
  const chat = new LlamaChat({ contextSequence: sequence, chatWrapper: plan.wrapper });
  let stopReason: StopReason = 'abort';
  let calls: ToolCall[] | undefined;
  try {
    const common = {
      maxTokens: plan.maxTokens,
      temperature: options.temperature ?? deps.defaults.temperature,
      topK: options.topK ?? deps.defaults.topK,
      topP: options.topP ?? deps.defaults.topP,
      seed,
      repeatPenalty: penalty === 1 || lastN === 0 ? (false as const) : { penalty, lastTokens: lastN },
      ...(guard ? { tokenBias: () => guard.biasAfter(tail) } : {}),
      signal: halt.signal,
      stopOnAbortSignal: true,
      onToken: mark,
      onTextChunk: (text: string) => {
        if (hitStop) return;
        const { emit: safe, stopped } = filter.push(text);
        emit(safe);
        if (stopped) {
          hitStop = true;
          halt.abort(); // nothing after a stop string is wanted
        }
      },
      onResponseChunk: (chunk: { type: 'segment' | undefined; segmentType: string | undefined; text: string }) => {
        if (chunk.type !== 'segment' || chunk.segmentType !== 'thought' || chunk.text === '') return;
        mark();
        reasoning.push(chunk.text);
        options.onReasoningChunk?.(chunk.text);
      },
    };
    const response = plan.functions
      ? await chat.generateResponse(history, {
          ...common,
          functions: plan.functions,
          documentFunctionParams: true,
          ...(plan.forced ? { maxParallelFunctionCalls: 1 } : {}),
          onFunctionCallParamsChunk: mark,
        })
      : await chat.generateResponse(history, { ...common, ...(plan.grammar ? { grammar: plan.grammar } : {}) });
    switch (response.metadata.stopReason) {
      case 'functionCalls':
        stopReason = 'toolCalls';
        break;
      case 'maxTokens':
        stopReason = 'maxTokens';
        break;
      case 'abort':
        stopReason = hitStop ? 'stop' : 'abort';
        break;
      case 'customStopTrigger':
        stopReason = 'stop';
        break;
      default:
        stopReason = hitStop ? 'stop' : 'eos';
    }
    if (response.functionCalls && response.functionCalls.length > 0) {
      calls = response.functionCalls.map((call) => ({ id: toolCallId(), name: call.functionName, arguments: call.params ?? {} }));
      stopReason = 'toolCalls';
    }
  } catch (error) {
    // LlamaChat throws when aborted before it generated anything.
    if (!halt.signal.aborted) throw new BindingError('LH_ERR_GENERATE', `model ${deps.name}: chat failed: ${messageOf(error)}`, { cause: error });
    stopReason = hitStop ? 'stop' : 'abort';
  } finally {
    chat.dispose({ disposeSequence: false });
    untrack();
  }
  // Text held back as a possible stop string is released when none came.
  if (!hitStop) emit(filter.flush());

  const ended = process.hrtime.bigint();
  const firstAt = firstTokenAt ?? ended;
  const result: ChatResult = {
    text: pieces.join(''),
    stopReason,
    timings: {
      prompt_eval_count: plan.promptTokens,
      prompt_eval_duration: Number(firstAt - plan.started),
      eval_count: sequence.tokenMeter.diff(meter).usedOutputTokens,
      eval_duration: Number(ended - firstAt),
      prompt_cached_count: plan.cached,
    },
  };
  if (calls) result.toolCalls = calls;
  if (reasoning.length > 0) result.reasoning = reasoning.join('');
  return result;
}

/**
 * Keep `tail` holding the last tokens of the sequence as the sampler sees them, for the UTF-8 guard: a token
 * bias is asked for while the previous token is being decoded, before `contextTokens` includes it, and
 * function-call tokens never reach LlamaChat's `onToken`. So the sequence's `evaluate` is wrapped, for this
 * chat only, to record what each step feeds back. Returns the undo.
 */
function trackEvaluatedTokens(sequence: LlamaContextSequence, tail: Token[]): () => void {
  const remember = (tokens: readonly Token[]) => {
    tail.push(...tokens.slice(-4));
    if (tail.length > 16) tail.splice(0, tail.length - 4);
  };
  const original = sequence.evaluate;
  const tracked: LlamaContextSequence['evaluate'] = (tokens, options) => {
    tail.length = 0;
    remember(sequence.contextTokens.slice(-4));
    remember(tokens);
    const inner = original.call(sequence, tokens, options);
    return (async function* () {
      let input: Token | Token[] | void = undefined;
      try {
        while (true) {
          const step = await inner.next(input);
          if (step.done) return step.value;
          input = yield step.value;
          remember(input === undefined ? [step.value] : Array.isArray(input) ? input : [input]);
        }
      } finally {
        await inner.return(undefined);
      }
    })();
  };
  Object.defineProperty(sequence, 'evaluate', { value: tracked, configurable: true, writable: true });
  return () => {
    delete (sequence as { evaluate?: unknown }).evaluate;
  };
}

function emptyResult(started: bigint): ChatResult {
  return {
    text: '',
    stopReason: 'abort',
    timings: { prompt_eval_count: 0, prompt_eval_duration: Number(process.hrtime.bigint() - started), eval_count: 0, eval_duration: 0, prompt_cached_count: 0 },
  };
}

/** `promise`'s value, or undefined as soon as `signal` aborts (the promise then runs on, unobserved). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.resolve(undefined);
  }
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
