/**
 * The contract of the generation service (`service.ts`), transport-free: a transport turns its wire request
 * into a `GenerationRequest`, hands a `GenerationSink` that maps what comes out onto its wire, and answers
 * with the `GenerationOutcome` or the coded error.
 */
import type { ChatMessage, OutputFormat, SamplingOptions, ToolCall, ToolChoice, ToolDefinition } from '../../plugin-api/index.js';
import type { Discussion } from './discussion.js';

/** Who asks: for the per-client rules of the queue, logs and status. */
export interface ClientRef {
  /**
   * Stable for the client: a socket id, or an HTTP client's id (`http:` + a hash of its API key, remote address
   * and `user`, see core/transports/http/openai/client.ts). It is also the binding's cache session (issue 11 §5):
   * requests with the same id may reuse each other's cached prompt, requests with different ids never do.
   */
  readonly id: string;
  readonly transport: 'socket' | 'http';
  /** A name for logs and `GET /status`; never a secret. */
  readonly label?: string;
}

/** A mounted personality by id (the socket's `personality: n`), or a zoo path (`language/category/name`), mounted on first use. */
export type PersonalityRef = { readonly id: number } | { readonly path: string };

/**
 * What a request does when no slot is free. `refuse-when-busy`: wait only while `max_queue` has room, else
 * `LH_ERR_BUSY` (the LoLLMs busy rule, socket clients). `wait`: wait up to the host's wait bound, else
 * `LH_ERR_QUEUE_FULL` (HTTP clients).
 */
export type QueuePolicy = 'refuse-when-busy' | 'wait';

export type GenerationKind = 'raw' | 'personality' | 'chat';

export interface GenerationRequest {
  client: ClientRef;
  /**
   * `raw`: the prompt goes to the model as is. `personality`: a personality's turn (prompt assembly, processor
   * hooks). `chat`: `messages` with the model's own chat template (or the fallback template), with `format`,
   * `tools` and `toolChoice`.
   */
  kind: GenerationKind;
  /** The personality of a `personality` request. */
  personality?: PersonalityRef;
  /** The user's text: `raw`, and `personality` without `messages`. */
  prompt?: string;
  /**
   * `chat`: the conversation. `personality` (HTTP): the conversation instead of `prompt` and `discussion`, built
   * into a discussion for this request only: system messages are added to the personality's conditioning, the
   * last user message is the prompt, the messages before it become the discussion (with the personality's
   * prefixes, as if they had been its turns). Nothing is kept after the request.
   */
  messages?: readonly ChatMessage[];
  /**
   * The discussion a `personality` turn reads and records into (the socket client's, kept across turns). Without
   * one the turn starts from an empty discussion (or the one `messages` make) and records nothing.
   */
  discussion?: Discussion;
  /**
   * Sampling over the defaults. Raw mode: every value, over the config's. Personality mode: only `maxTokens`,
   * over the personality's `model_n_predicts` (its `model_*` values rule the rest, as in the LoLLMs protocol).
   */
  sampling?: Partial<SamplingOptions>;
  /** Stop strings on top of the mode's own (a personality's anti-prompts). */
  stop?: readonly string[];
  /** Raw mode: keep only the last `nCrop` prompt tokens (0 or less: all). */
  nCrop?: number;
  /** `chat`: constrain the answer (JSON, a JSON schema, a GBNF grammar); the host validates what comes back. */
  format?: OutputFormat;
  /**
   * `chat`: functions the model may call; calls end the generation with `finishReason: 'tool_calls'`. A
   * `personality` request may carry them with `toolChoice` `auto` or `none` (a personality never calls one).
   */
  tools?: readonly ToolDefinition[];
  /** `chat`: whether the model may (`auto`, default), must (`required`, `{ name }`) or must not (`none`) call a tool. */
  toolChoice?: ToolChoice;
  queue: QueuePolicy;
  /** Generations this client may have running or waiting at once; one more is refused with `LH_ERR_BUSY` (socket: 1). */
  maxPerClient?: number;
  /** Aborting cancels: from the queue at once, from the engine within one token. */
  signal: AbortSignal;
}

/** A workflow message: a step, progress, info, warning, exception, JSON, code, UI..., with its lollms `MSG_TYPE` number. */
export interface WorkflowMessage {
  /** The `MSG_TYPE` number (1..17; never 0, which is text). */
  type: number;
  /** Its `MSG_TYPE_*` name. */
  typeName: string;
  content: string;
  metadata: Record<string, unknown>;
}

/** A question a workflow puts to the user (issue 15, `ctx.ask`). */
export interface AskRequest {
  question: string;
  choices?: string[];
  timeoutMs: number;
}

/**
 * Where a generation's output goes. After the generation is cancelled nothing more is called. A sink that
 * throws loses that piece only; the generation goes on.
 */
export interface GenerationSink {
  /** While waiting for a slot: the number of requests ahead (0 = next), again whenever it changes. */
  queued?(position: number): void;
  /** Text that is part of the answer: everything `answer` receives, joined, is a prefix of `outcome.text`. */
  answer(text: string): void;
  /**
   * Streamed text that may not be the answer: a workflow's `ctx.chunk` and streamed `ctx.generate` text, and
   * model text that `processModelOutput` rewrites afterwards.
   */
  draft(text: string): void;
  /** A workflow message. */
  message(message: WorkflowMessage): void;
  /** A channel back to the user; without one (HTTP), a workflow's question fails with a coded error. */
  ask?(request: AskRequest, signal: AbortSignal): Promise<string>;
}

/** Why a generation ended: `tool_calls` when a `chat` answer is calls of `tools` (`outcome.toolCalls`). */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'cancelled';

export interface GenerationUsage {
  /** Prompt tokens of every model call of the request. */
  promptTokens: number;
  /** Tokens generated by every model call of the request. */
  completionTokens: number;
  /**
   * Of `promptTokens`, those reused from the client's cache rather than evaluated (OpenAI's `cached_tokens`).
   * Present when the binding reported it for at least one model call.
   */
  cachedTokens?: number;
}

export interface GenerationTimings {
  /** Time spent waiting for a slot, in ms. */
  queuedMs: number;
  /** From the request to its outcome, in ms. */
  totalMs: number;
  /** Generated tokens per second of model time, when any were generated. */
  tokensPerSecond?: number;
  /** From the request to the first text streamed to the sink (`answer` or `draft`), in ms; absent when none was. */
  firstTextMs?: number;
}

export interface GenerationOutcome {
  /** The answer (personality mode: after `processModelOutput`); what was generated until then after a cancel. */
  text: string;
  /** `chat`: the tools the model called (with `finishReason: 'tool_calls'`); `text` is what it said before them. */
  toolCalls?: ToolCall[];
  finishReason: FinishReason;
  usage: GenerationUsage;
  timings: GenerationTimings;
}

/** A generation that ran (or waited) and ended, as the service reports it to its observer (metrics). */
export interface EndedGeneration {
  mode: GenerationKind;
  /** The personality's mounted path, in personality mode, once it was mounted. */
  personality?: string;
  transport: ClientRef['transport'];
  outcome: 'done' | 'cancelled' | 'error';
  /** The error's code when it failed with a coded error. */
  errorCode?: string;
  usage: GenerationUsage;
  timings: GenerationTimings;
}

/** What the generation service reports as it works (metrics); refusals are the scheduler's. */
export interface GenerationObserver {
  /** A generation ended: done, cancelled (queued or running) or failed. */
  ended?(generation: EndedGeneration): void;
}
